#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

#include "sanitize.h"
#include "util.h"

static SCREEN *screen;
static FILE *term_out, *term_in;
static bool active;
static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t sig_bits;
static int saved_stderr = -1, err_fd = -1;
static struct termios saved_tio;
static bool have_tio;

bool term_active(void) { return active; }

/* ---- signals ---- */

static void on_signal(int sig)
{
    int saved = errno;
    sig_bits |= sig == SIGHUP    ? TERM_SIG_HUP
                : sig == SIGINT  ? TERM_SIG_INT
                : sig == SIGTERM ? TERM_SIG_TERM
                                 : TERM_SIG_WINCH;
    if (sig_pipe[1] >= 0) {
        ssize_t r = write(sig_pipe[1], "s", 1);
        (void)r;
    }
    errno = saved;
}

/* Async-signal-safe terminal restore for crashes: termios back, leave the
 * alternate screen, show the cursor, reset attributes; then the signal's
 * default action runs (SA_RESETHAND) so a core dump still happens. */
static void on_crash(int sig)
{
    static const char reset[] = "\033[0m\033[?25h\033[?1049l\r\n";
    if (have_tio)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
    ssize_t r = write(STDOUT_FILENO, reset, sizeof reset - 1);
    (void)r;
    raise(sig);
}

static void install(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = flags;
    sigaction(sig, &sa, NULL);
}

int term_signal_fd(void) { return sig_pipe[0]; }

unsigned term_take_signals(void)
{
    char buf[64];
    while (read(sig_pipe[0], buf, sizeof buf) > 0) {
    }
    unsigned b = (unsigned)sig_bits;
    sig_bits = 0;
    return b;
}

static void die_hook(void)
{
    if (active) {
        endwin();
        active = false;
    }
    if (saved_stderr >= 0) {
        dup2(saved_stderr, STDERR_FILENO);
    }
}

/* ---- stderr capture ---- */

static void capture_stderr(void)
{
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/dse-console-stderr.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return; /* keep stderr as is; better than failing to start */
    unlink(path);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    if (saved_stderr < 0) {
        close(fd);
        return;
    }
    dup2(fd, STDERR_FILENO);
    err_fd = fd;
}

static void replay_stderr(void)
{
    if (saved_stderr < 0)
        return;
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    saved_stderr = -1;
    if (err_fd < 0)
        return;
    off_t end = lseek(err_fd, 0, SEEK_END);
    if (end > 0) {
        /* Bounded: a runaway library must not make exit slow. */
        size_t n = end > (1 << 20) ? (1 << 20) : (size_t)end;
        char *buf = xmalloc(n + 1);
        lseek(err_fd, end - (off_t)n, SEEK_SET);
        ssize_t r = read(err_fd, buf, n);
        if (r > 0) {
            char *clean = sanitize(buf, (size_t)r, SAN_KEEP_NL | SAN_KEEP_TAB);
            fputs(clean, stderr);
            free(clean);
        }
        free(buf);
    }
    close(err_fd);
    err_fd = -1;
}

/* ---- start / stop ---- */

int term_start(struct ui *ui, struct dse_err *err)
{
    if (pipe(sig_pipe) < 0)
        return dse_fail(err, "terminal", "pipe: %s", strerror(errno));
    for (int i = 0; i < 2; i++) {
        fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    const char *term = getenv("TERM");
    if (ui->headless) {
        term_out = fopen("/dev/null", "w");
        term_in = fopen("/dev/null", "r");
        if (!term || !*term)
            term = "xterm-256color";
    } else {
        if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
            return dse_fail(err, "terminal",
                            "the console needs a terminal on stdin and stdout "
                            "(use the CLI commands, or --headless for tests)");
        if (!term || !*term)
            return dse_fail(err, "terminal", "TERM is not set; set it to your terminal type "
                                             "(e.g. TERM=xterm-256color)");
        term_out = stdout;
        term_in = stdin;
        have_tio = tcgetattr(STDIN_FILENO, &saved_tio) == 0;
    }
    /* Our SIGWINCH handler must exist before newterm so ncurses does not
     * install its own; resizes then arrive through the self-pipe. */
    install(SIGWINCH, on_signal, SA_RESTART);
    capture_stderr();
    util_set_die_hook(die_hook);
    screen = newterm(term, term_out, term_in);
    if (!screen) {
        replay_stderr();
        char *t = sanitize_str(term, 0);
        dse_fail(err, "terminal",
                 "unknown terminal type '%s' (no terminfo entry); try TERM=xterm-256color or "
                 "TERM=vt100",
                 t);
        free(t);
        return -1;
    }
    set_term(screen);
    /* A terminal that cannot move the cursor (TERM=dumb) would get a
     * garbled stream, not a screen. */
    const char *cup = tigetstr("cup");
    if (!cup || cup == (char *)-1) {
        endwin();
        delscreen(screen);
        screen = NULL;
        replay_stderr();
        char *t = sanitize_str(term, 0);
        dse_fail(err, "terminal",
                 "terminal type '%s' cannot position the cursor; use a full-screen terminal "
                 "(e.g. TERM=xterm-256color or vt100) or the CLI commands",
                 t);
        free(t);
        return -1;
    }
    active = true;
    cbreak();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    set_escdelay(25);
    curs_set(0);
    /* After newterm: replace the handlers ncurses installed. */
    install(SIGINT, on_signal, SA_RESTART);
    install(SIGTERM, on_signal, SA_RESTART);
    install(SIGHUP, on_signal, SA_RESTART);
    signal(SIGPIPE, SIG_IGN);
    if (!ui->headless) {
        install(SIGSEGV, on_crash, (int)(SA_RESETHAND | SA_NODEFER));
        install(SIGBUS, on_crash, (int)(SA_RESETHAND | SA_NODEFER));
        install(SIGABRT, on_crash, (int)(SA_RESETHAND | SA_NODEFER));
        install(SIGFPE, on_crash, (int)(SA_RESETHAND | SA_NODEFER));
        install(SIGILL, on_crash, (int)(SA_RESETHAND | SA_NODEFER));
    }
    return 0;
}

void term_stop(struct ui *ui)
{
    (void)ui;
    if (active) {
        curs_set(1);
        endwin();
        active = false;
    }
    if (screen) {
        delscreen(screen);
        screen = NULL;
    }
    if (term_out && term_out != stdout)
        fclose(term_out);
    if (term_in && term_in != stdin)
        fclose(term_in);
    term_out = term_in = NULL;
    util_set_die_hook(NULL);
    install(SIGWINCH, SIG_DFL, 0);
    install(SIGINT, SIG_DFL, 0);
    install(SIGTERM, SIG_DFL, 0);
    install(SIGHUP, SIG_DFL, 0);
    replay_stderr();
    for (int i = 0; i < 2; i++)
        if (sig_pipe[i] >= 0) {
            close(sig_pipe[i]);
            sig_pipe[i] = -1;
        }
}

/* ---- colours ---- */

static attr_t to_attr(unsigned a)
{
    attr_t r = A_NORMAL;
    if (a & THEME_A_BOLD)
        r |= A_BOLD;
    if (a & THEME_A_DIM)
        r |= A_DIM;
    if (a & THEME_A_REVERSE)
        r |= A_REVERSE;
    if (a & THEME_A_UNDERLINE)
        r |= A_UNDERLINE;
    if (a & THEME_A_STANDOUT)
        r |= A_STANDOUT;
    if (a & THEME_A_BLINK)
        r |= A_BLINK;
#ifdef A_ITALIC
    if (a & THEME_A_ITALIC)
        r |= A_ITALIC;
#endif
    return r;
}

void term_apply_theme(struct ui *ui)
{
    const char *nc = getenv("NO_COLOR");
    bool want = !(nc && *nc) && has_colors();
    if (want && !ui->color) {
        if (start_color() == OK) {
            use_default_colors();
            ui->color = true;
        }
    }
    if (!want)
        ui->color = false;
    int colors = ui->color ? COLORS : 0;
    for (int r = 0; r < ROLE__COUNT; r++) {
        const struct theme_entry *e = &ui->theme.e[r];
        if (!ui->color) {
            /* Monochrome: the theme's attributes plus the role's own, so
             * selection and errors stay visible without colour. */
            ui->attr[r] = to_attr(theme_role_mono(r) | (e->set ? e->attrs : 0));
            continue;
        }
        bool bf = false, bb = false;
        int fg = theme_color_reduce(e->fg, colors >= 256 ? 256 : colors >= 16 ? 16 : 8, &bf);
        int bg = theme_color_reduce(e->bg, colors >= 256 ? 256 : colors >= 16 ? 16 : 8, &bb);
        int pair = r + 1;
        if (pair < COLOR_PAIRS && init_pair((short)pair, (short)fg, (short)bg) == OK)
            ui->attr[r] = COLOR_PAIR(pair) | to_attr(e->attrs) | (bf ? A_BOLD : 0);
        else
            ui->attr[r] = to_attr(theme_role_mono(r));
    }
}

/* ---- size and keys ---- */

void term_resize(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resizeterm(ws.ws_row, ws.ws_col);
}

int term_get_key(WINDOW *w, int *key)
{
    wint_t wc;
    int r = wget_wch(w, &wc);
    if (r == ERR)
        return 0;
    if (r == KEY_CODE_YES) {
        switch (wc) {
        case KEY_ENTER: *key = '\n'; break;
        case KEY_BACKSPACE: *key = UI_KEY_FN(KEY_BACKSPACE); break;
        default: *key = UI_KEY_FN((int)wc); break;
        }
        return 1;
    }
    if (wc == '\r')
        wc = '\n';
    if (wc == 127 || wc == 8) {
        *key = UI_KEY_FN(KEY_BACKSPACE);
        return 1;
    }
    *key = (int)wc;
    return 1;
}

void term_suspend(void)
{
    if (!active)
        return;
    def_prog_mode();
    endwin();
    if (saved_stderr >= 0) /* the editor should see the real stderr */
        dup2(saved_stderr, STDERR_FILENO);
}

void term_resume(void)
{
    if (err_fd >= 0)
        dup2(err_fd, STDERR_FILENO);
    reset_prog_mode();
    term_resize();
    clearok(curscr, TRUE);
}

/* ---- screen dump ---- */

int term_save_screen(const char *path, struct dse_err *err)
{
    struct sbuf out = {0};
    sbuf_add(&out, "", 0);
    int rows = getmaxy(curscr), cols = getmaxx(curscr);
    cchar_t *line = xcalloc((size_t)cols + 1, sizeof *line);
    for (int y = 0; y < rows; y++) {
        int n = mvwin_wchnstr(curscr, y, 0, line, cols);
        if (n == ERR)
            n = 0;
        size_t start = out.len;
        for (int x = 0; x < cols; x++) {
            wchar_t wch[CCHARW_MAX + 1];
            attr_t a;
            short pair;
            if (getcchar(&line[x], wch, &a, &pair, NULL) == ERR)
                continue;
            for (int k = 0; wch[k]; k++) {
                char mb[16];
                mbstate_t st;
                memset(&st, 0, sizeof st);
                size_t l = wcrtomb(mb, wch[k], &st);
                if (l != (size_t)-1)
                    sbuf_add(&out, mb, l);
            }
        }
        /* Trim trailing blanks. */
        while (out.len > start && out.s[out.len - 1] == ' ')
            out.len--;
        out.s[out.len] = 0;
        sbuf_addc(&out, '\n');
    }
    free(line);
    int rc = util_write_file_atomic(path, out.s, out.len);
    sbuf_free(&out);
    if (rc < 0)
        return dse_fail(err, "io", "cannot write %s: %s", path, strerror(errno));
    return 0;
}
