/* fuzz_lmreply: the chat-completions reply parser of the openai provider
 * (parse_reply in src/lm_openai.c).  The function is static, so this
 * target includes the source file; the library's copy of lm_openai.o is
 * then not linked (every symbol it defines is already here).
 * Invariants: success yields text and a terminal-safe model name; failure
 * yields LmClientError with a terminal-safe message. */
#include "../../src/lm_openai.c"

#include "../unit/hostile_corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_lmreply: invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oa_call call;
    memset(&call, 0, sizeof call);
    if (size) {
        /* exact-size buffer: the parser must honour rx.len */
        call.rx.s = malloc(size);
        memcpy(call.rx.s, data, size);
        call.rx.len = call.rx.cap = size;
    }
    struct lm_response resp;
    memset(&resp, 0, sizeof resp);
    struct dse_err err = {{0}, {0}};
    int rc = parse_reply(&call, 1u << 20, &resp, &err);
    if (rc == 0) {
        must(resp.text != NULL, "no text on success");
        must(hostile_check(resp.model, strlen(resp.model), 0) == NULL, "unsafe model name");
        must(resp.prompt_tokens >= -1 && resp.completion_tokens >= -1, "negative token count");
        free(resp.text);
    } else {
        must(strcmp(err.code, OA_ERR) == 0, "error code is not LmClientError");
        must(hostile_check(err.msg, strlen(err.msg), 0) == NULL, "unsafe error message");
    }
    free(call.rx.s);
    return 0;
}
