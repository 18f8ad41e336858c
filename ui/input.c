#include "input.h"

#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "util.h"

enum input_kind { IN_TEXT, IN_CONFIRM };

struct input {
    enum input_kind kind;
    char *prompt;       /* clean */
    struct sbuf text;   /* UTF-8 being edited */
    ui_text_fn *done;
    ui_yes_fn *yes;
    void *arg;
    void (*free_arg)(void *);
};

struct input *input_new_text(const char *prompt, const char *initial, ui_text_fn *done,
                             void *arg, void (*free_arg)(void *))
{
    struct input *in = xcalloc(1, sizeof *in);
    in->kind = IN_TEXT;
    in->prompt = text_clean(prompt);
    sbuf_add(&in->text, "", 0);
    if (initial)
        sbuf_adds(&in->text, initial);
    in->done = done;
    in->arg = arg;
    in->free_arg = free_arg;
    return in;
}

struct input *input_new_confirm(const char *question, ui_yes_fn *yes, void *arg,
                                void (*free_arg)(void *))
{
    struct input *in = xcalloc(1, sizeof *in);
    in->kind = IN_CONFIRM;
    in->prompt = text_clean(question);
    sbuf_add(&in->text, "", 0);
    in->yes = yes;
    in->arg = arg;
    in->free_arg = free_arg;
    return in;
}

void input_free(struct input *in)
{
    if (!in)
        return;
    if (in->free_arg)
        in->free_arg(in->arg);
    free(in->prompt);
    sbuf_free(&in->text);
    free(in);
}

static void append_cp(struct sbuf *b, int c)
{
    char u[5] = {0};
    unsigned v = (unsigned)c;
    if (v < 0x80)
        u[0] = (char)v;
    else if (v < 0x800)
        u[0] = (char)(0xc0 | (v >> 6)), u[1] = (char)(0x80 | (v & 0x3f));
    else if (v < 0x10000)
        u[0] = (char)(0xe0 | (v >> 12)), u[1] = (char)(0x80 | ((v >> 6) & 0x3f)),
        u[2] = (char)(0x80 | (v & 0x3f));
    else
        u[0] = (char)(0xf0 | (v >> 18)), u[1] = (char)(0x80 | ((v >> 12) & 0x3f)),
        u[2] = (char)(0x80 | ((v >> 6) & 0x3f)), u[3] = (char)(0x80 | (v & 0x3f));
    sbuf_adds(b, u);
}

static void backspace(struct sbuf *b)
{
    while (b->len > 0) {
        unsigned char c = (unsigned char)b->s[--b->len];
        if ((c & 0xc0) != 0x80)
            break;
    }
    b->s[b->len] = 0;
}

int input_key(struct ui *ui, int key)
{
    struct input *in = ui->input;
    if (in->kind == IN_CONFIRM) {
        ui->input = NULL;
        if (key == 'y' || key == 'Y') {
            /* The callback owns nothing of the input; free the arg after. */
            in->yes(ui, in->arg);
        } else {
            ui_msg(ui, ROLE_MESSAGE, "cancelled");
        }
        input_free(in);
        return UI_HANDLED | UI_REDRAW;
    }
    if (key == UI_KEY_ESC || key == 7 /* C-g */) {
        ui->input = NULL;
        input_free(in);
        return UI_HANDLED | UI_REDRAW;
    }
    if (key == UI_KEY_ENTER) {
        ui->input = NULL;
        char *text = xstrdup(in->text.s);
        in->done(ui, util_trim(text), in->arg);
        free(text);
        input_free(in);
        return UI_HANDLED | UI_REDRAW;
    }
    if (key == UI_KEY_FN(KEY_BACKSPACE)) {
        if (in->text.len == 0) { /* backspace on empty closes, like a shell */
            ui->input = NULL;
            input_free(in);
        } else {
            backspace(&in->text);
        }
        return UI_HANDLED | UI_REDRAW;
    }
    if (key == 21) { /* C-u */
        sbuf_reset(&in->text);
        sbuf_add(&in->text, "", 0);
        return UI_HANDLED | UI_REDRAW;
    }
    if (key == 23) { /* C-w: delete the last word */
        while (in->text.len && in->text.s[in->text.len - 1] == ' ')
            backspace(&in->text);
        while (in->text.len && in->text.s[in->text.len - 1] != ' ')
            backspace(&in->text);
        return UI_HANDLED | UI_REDRAW;
    }
    if (!(key & UI_KEY_FN_BIT) && key >= 0x20 && key != 0x7f && in->text.len < 4000)
        append_cp(&in->text, key);
    return UI_HANDLED | UI_REDRAW;
}

void input_draw(struct ui *ui, WINDOW *w, int width)
{
    struct input *in = ui->input;
    if (in->kind == IN_CONFIRM) {
        /* The answer keys always show, however long the question. */
        static const char keys[] = "  [y/N]";
        int kw = (int)sizeof keys - 1;
        if (width > kw + 8) {
            draw_clean(ui, w, 0, 0, width - kw, ROLE_WARN, in->prompt, TEXT_LEFT);
            draw_clean(ui, w, 0, width - kw, kw, ROLE_WARN, keys, TEXT_LEFT);
        } else {
            draw_clean(ui, w, 0, 0, width, ROLE_WARN, keys + 2, TEXT_LEFT);
        }
        return;
    }
    int pw = text_width(in->prompt);
    if (pw > width / 2)
        pw = width / 2;
    draw_clean(ui, w, 0, 0, pw, ROLE_INPUT, in->prompt, TEXT_LEFT);
    char *clean = text_clean(in->text.s);
    /* Show the tail when the text is longer than the room. */
    int room = width - pw - 1;
    const char *shown = clean;
    while (room > 0 && text_width(shown) > room && *shown) {
        shown++;
        while ((*shown & 0xc0) == 0x80)
            shown++;
    }
    int tw = text_width(shown);
    draw_clean(ui, w, 0, pw, width - pw, ROLE_INPUT, shown, TEXT_LEFT);
    free(clean);
    wmove(w, 0, pw + tw < width ? pw + tw : width - 1);
}
