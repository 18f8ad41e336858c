/* action: every console action in one X-macro.
 *
 * The list yields the enum, the names the keymap parser accepts
 * (`bind <scope> <key> <action>`), and the help screen text, so `?` always
 * lists exactly what dispatch knows.  Action ids are numbered from
 * KEY_MAX + 1 so they can never be mistaken for curses key codes.
 *
 * Scopes are the keymap sections: `global` is the fallback for every pane;
 * each pane (and the viewer) has its own section that overrides it. */
#ifndef DSE_UI_ACTION_H
#define DSE_UI_ACTION_H

#include <curses.h> /* KEY_MAX and KEY_* codes only; no curses calls here */

/* X(id, name, help) */
#define UI_ACTIONS(X)                                                                   \
    X(HELP, "help", "show every key of this pane")                                     \
    X(COMMAND, "command", "command line (:signature ID, :receipts error, :theme, ...)") \
    X(FILTER, "filter", "filter the list (in the viewer: search)")                     \
    X(BACK, "back", "back one level (viewer, filter, pane); quit at the signatures")   \
    X(QUIT, "quit", "quit the console")                                                \
    X(NEXT_PANE, "next-pane", "next pane")                                             \
    X(PREV_PANE, "prev-pane", "previous pane")                                         \
    X(PANE_SIGNATURES, "pane-signatures", "focus the signature list")                  \
    X(PANE_OVERVIEW, "pane-overview", "overview of the selected signature")            \
    X(PANE_HISTORY, "pane-history", "active pointer history")                          \
    X(PANE_CANARY, "pane-canary", "canary settings, counters and verdict")             \
    X(PANE_COMPILE, "pane-compile", "compile reports")                                 \
    X(PANE_EXAMPLES, "pane-examples", "examples (labeling)")                           \
    X(PANE_RECEIPTS, "pane-receipts", "receipts, newest first")                        \
    X(PANE_RUNS, "pane-runs", "ops runs and their event timeline")                     \
    X(UP, "up", "move up")                                                             \
    X(DOWN, "down", "move down")                                                       \
    X(PAGE_UP, "page-up", "page up")                                                   \
    X(PAGE_DOWN, "page-down", "page down")                                             \
    X(TOP, "top", "go to the first row")                                               \
    X(BOTTOM, "bottom", "go to the last row")                                          \
    X(LEFT, "left", "fold / go to parent (viewer)")                                    \
    X(RIGHT, "right", "unfold (viewer)")                                               \
    X(ENTER, "open", "open the selected row")                                          \
    X(REFRESH, "refresh", "reload now")                                                \
    X(REDRAW, "redraw", "repaint the whole screen")                                    \
    X(FREEZE, "freeze", "freeze / resume live refresh")                                \
    X(FASTER, "refresh-faster", "refresh more often (halve the interval)")             \
    X(SLOWER, "refresh-slower", "refresh less often (double the interval)")            \
    X(ARM, "arm", "arm writes for this session (read-only mode)")                      \
    X(LOG, "command-log", "show the command log (equivalent dse commands)")            \
    X(MESSAGES, "messages", "message history, time-stamped, with the commands run")    \
    X(ROLLBACK, "rollback", "roll the active pointer back (confirm shows from -> to)") \
    X(PROMOTE, "promote", "promote the latest compile through the holdout gate")       \
    X(COMPILE, "compile", "compile the signature in the background")                   \
    X(CANARY, "canary", "start or stop the canary")                                    \
    X(LABEL_ACCEPT, "label-accept", "accept (meta.review.status=accepted)")            \
    X(LABEL_REJECT, "label-reject", "reject (meta.review.status=rejected)")            \
    X(LABEL_1, "label-1", "expected output := output value 1")                         \
    X(LABEL_2, "label-2", "expected output := output value 2")                         \
    X(LABEL_3, "label-3", "expected output := output value 3")                         \
    X(LABEL_4, "label-4", "expected output := output value 4")                         \
    X(LABEL_5, "label-5", "expected output := output value 5")                         \
    X(LABEL_6, "label-6", "expected output := output value 6")                         \
    X(LABEL_7, "label-7", "expected output := output value 7")                         \
    X(LABEL_8, "label-8", "expected output := output value 8")                         \
    X(LABEL_9, "label-9", "expected output := output value 9")                         \
    X(LABEL_EDIT, "label-edit", "edit the expected JSON in $EDITOR")                   \
    X(LABEL_SPLIT, "label-split", "cycle the split train / holdout")                   \
    X(LABEL_SKIP, "label-skip", "skip to the next example")                            \
    X(LABEL_UNDO, "label-undo", "undo the last decision (several levels)")             \
    X(TRACE, "open-trace", "open the receipt's RLM trace")                             \
    X(MAKE_EXAMPLE, "make-example", "make this receipt an example")                    \
    X(CYCLE_RESULT, "cycle-result", "cycle the result filter: all / Ok / Error")       \
    X(CLEAR_FILTERS, "clear-filters", "clear the receipt filters")                     \
    X(SEARCH_NEXT, "search-next", "next search match")                                 \
    X(SEARCH_PREV, "search-prev", "previous search match")                             \
    X(FOLD, "fold", "fold / unfold the node under the cursor")                         \
    X(FOLD_ALL, "fold-all", "fold every node")                                         \
    X(UNFOLD_ALL, "unfold-all", "unfold every node")                                   \
    X(RAW, "raw", "toggle raw JSON text")                                              \
    X(WRAP, "wrap", "toggle line wrapping")                                            \
    X(SAVE, "save", "save the document to a file")                                     \
    X(FOLLOW, "follow", "follow new events as they arrive")

enum ui_action {
    ACT_NONE = 0, /* unbound (also the `none` action, which unbinds) */
    ACT__BASE = KEY_MAX,
#define UI_X_ACT(id, name, help) ACT_##id,
    UI_ACTIONS(UI_X_ACT)
#undef UI_X_ACT
    ACT__END
};

/* X(id, name) — keymap sections. */
#define UI_SCOPES(X)                 \
    X(GLOBAL, "global")              \
    X(SIGNATURES, "signatures")      \
    X(OVERVIEW, "overview")          \
    X(HISTORY, "history")            \
    X(CANARY, "canary")              \
    X(COMPILE, "compile")            \
    X(EXAMPLES, "examples")          \
    X(RECEIPTS, "receipts")          \
    X(RUNS, "runs")                  \
    X(VIEWER, "viewer")

enum ui_scope {
#define UI_X_SCOPE(id, name) SCOPE_##id,
    UI_SCOPES(UI_X_SCOPE)
#undef UI_X_SCOPE
    SCOPE__COUNT
};

/* Keys are Unicode code points for characters, and UI_KEY_FN(curses code)
 * for function keys, so a key like U+0101 never collides with KEY_DOWN. */
#define UI_KEY_FN_BIT 0x01000000
#define UI_KEY_FN(code) (UI_KEY_FN_BIT | (code))
#define UI_KEY_ESC 27
#define UI_KEY_ENTER '\n'

/* Name <-> id; NULL / ACT_NONE when unknown. */
const char *action_name(int act);
const char *action_help(int act);
int action_parse(const char *name); /* -1 unknown; ACT_NONE for "none" */
const char *scope_name(int scope);
int scope_parse(const char *name); /* -1 unknown */

#endif
