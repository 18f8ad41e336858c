# dse: build, test, run, install.
#
#   make            build build/dse (installs missing Debian packages when root)
#   make test       unit tests (cmocka) + CLI, console (tmux), server tests
#   make run        build, create/reuse the demo store, open the console
#   make asan       the whole test suite under AddressSanitizer + UBSan
#   make install    PREFIX=/usr/local DESTDIR=
#   make bench      benchmarks (never part of make test)
#   V=1             show full commands

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

# Every library comes from a Debian package found with pkg-config.
PKGS     := ncursesw sqlite3 libcjson libcurl libcrypto libmicrohttpd icu-i18n icu-uc
PKG_DEBS := libncurses-dev libsqlite3-dev libcjson-dev libcurl4-openssl-dev \
            libssl-dev libmicrohttpd-dev libcmocka-dev libicu-dev pkg-config
# Tools the test suite drives (tmux for console tests, curl for server tests).
TOOL_DEBS := tmux curl sqlite3
# Node.js and npm run the official `convex` client against `dse serve`
# (tests/server/test_convex_client.sh).  A machine that already has node and
# npm (e.g. from NodeSource) keeps them; otherwise Debian's packages are used.
NODE_DEBS := nodejs npm

WARN := -std=c11 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wwrite-strings -Werror
OPT  ?= -O2 -g
SAN  ?=
DEFS := -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -D_XOPEN_SOURCE_EXTENDED

ifeq ($(V),1)
Q :=
else
Q := @
endif

DEPS_STAMP := $(BUILD)/.deps-ok

# pkg-config is only consulted once the stamp says the packages are there.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

CFLAGS_ALL = $(WARN) $(OPT) $(SAN) $(DEFS) -I src -I ui $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lpthread -lm $(LDLIBS)

SRC_C   := $(filter-out src/main.c,$(wildcard src/*.c))
UI_C    := $(wildcard ui/*.c)
TEST_C  := $(wildcard tests/unit/test_*.c)
TSUP_C  := $(wildcard tests/unit/support_*.c)

SRC_O   := $(SRC_C:%.c=$(BUILD)/%.o) $(BUILD)/gen/embedded.o
UI_O    := $(UI_C:%.c=$(BUILD)/%.o)
MAIN_O  := $(BUILD)/src/main.o
TSUP_O  := $(TSUP_C:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_C:tests/unit/%.c=$(BUILD)/tests/%)

LIB := $(BUILD)/libdse.a
BIN := $(BUILD)/dse

# Object files of tests and benchmarks are intermediates of pattern rules;
# keep them so a second build does not recompile everything.
.SECONDARY:

.PHONY: all deps node-debs test unit-test script-test run demo asan install uninstall clean bench check-long fuzz fuzz-build
all: $(BIN)

# ---- dependencies -------------------------------------------------------
# Missing packages are installed when we are root; otherwise we stop and
# print the exact command to run.  $(call ensure_debs,PACKAGES)
define ensure_debs
	@missing=""; \
	for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "dse: installing missing Debian packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || { \
	      echo "dse: apt-get failed; run: apt-get install$$missing" >&2; exit 1; }; \
	  else \
	    echo "dse: missing Debian packages. Run as root:" >&2; \
	    echo "  apt-get install$$missing" >&2; exit 1; \
	  fi; \
	fi
endef

deps: $(DEPS_STAMP)
node-debs:
	$(call ensure_debs,$(NODE_DEBS))
$(DEPS_STAMP):
	$(call ensure_debs,$(PKG_DEBS) $(TOOL_DEBS))
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory node-debs; fi
	@for m in $(PKGS) cmocka; do \
	  pkg-config --exists $$m || { echo "dse: pkg-config cannot find $$m" >&2; exit 1; }; \
	done
	@mkdir -p $(BUILD) && touch $@

# ---- build --------------------------------------------------------------
# Migrations, the catalog, the SelectTool fixture and the themes are compiled
# into the binary so a bare build/dse works from anywhere; files on disk can
# still override them.  ('?' is escaped so no text can form a C11 trigraph.)
EMBED := $(sort $(wildcard db/migrations/*.sql)) $(sort $(wildcard db/catalog/*.json)) \
         $(sort $(wildcard db/datasets/*.jsonl)) $(sort $(wildcard themes/*.theme))
$(BUILD)/gen/embedded.c: $(EMBED) Makefile | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q){ echo '#include "embedded.h"'; \
	  echo 'const struct embedded_file embedded_files[] = {'; \
	  for f in $(EMBED); do \
	    printf '{ "%s",\n' "$$f"; \
	    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/"/' -e 's/$$/\\n"/' "$$f"; \
	    printf ', %s },\n' "$$(wc -c < "$$f")"; \
	  done; \
	  echo '{ 0, 0, 0 } };'; } > $@

$(BUILD)/gen/embedded.o: $(BUILD)/gen/embedded.c
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -Wno-overlength-strings -c $< -o $@

$(BUILD)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIB): $(SRC_O)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(MAIN_O) $(UI_O) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) $(SAN) -o $@ $(MAIN_O) $(UI_O) $(LIB) $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(TSUP_O) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) $(SAN) -o $@ $< $(TSUP_O) $(LIB) $(LDLIBS_ALL) $(CMOCKA_LIBS)

# ---- tests --------------------------------------------------------------
# Unit tests run first (fast), then the scripted tests that drive the real
# binary: tests/cli, tests/console (tmux), tests/server.
test: unit-test script-test

unit-test: $(TEST_BIN) $(BIN)
	@fail=0; for t in $(TEST_BIN); do \
	  echo "== $$t"; \
	  DSE_SRCDIR=$(CURDIR) $$t || fail=1; \
	done; \
	if [ $$fail = 0 ]; then echo "unit tests: all passed"; else echo "unit tests: FAILED" >&2; exit 1; fi

script-test: $(BIN)
	@DSE_BIN=$(CURDIR)/$(BIN) DSE_SRCDIR=$(CURDIR) tests/run-scripts.sh

run: $(BIN)
	@$(BIN) --db $(BUILD)/demo.db demo --console

asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

# Benchmarks: tests/bench/*.c are built against libdse.a (+ test support
# code) and driven by tests/bench/run.sh, which prints and saves the table.
BENCH_C   := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_C:tests/bench/%.c=$(BUILD)/bench/%)

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(TSUP_O) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) $(SAN) -o $@ $< $(TSUP_O) $(LIB) $(LDLIBS_ALL) $(CMOCKA_LIBS)

bench: $(BIN) $(BENCH_BIN)
	@DSE_BIN=$(CURDIR)/$(BIN) DSE_SRCDIR=$(CURDIR) DSE_BENCH_BIN=$(CURDIR)/$(BUILD)/bench \
	  tests/bench/run.sh

# Fuzzing: libFuzzer targets tests/fuzz/fuzz_*.c, built with clang against an
# instrumented copy of the library, each run for FUZZ_SECONDS with its corpus
# in tests/fuzz/corpus/<target>/ (read-only seeds; new finds go to build/).
FUZZ_SECONDS ?= 30
FUZZ_C := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BUILD := build/fuzz
# clang and its libFuzzer runtime (libclang-rt-14-dev on Debian 12).
FUZZ_DEBS := clang libclang-rt-14-dev
fuzz: $(DEPS_STAMP)
	$(call ensure_debs,$(FUZZ_DEBS))
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang OPT="-O1 -g" \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" fuzz-build
	@DSE_SRCDIR=$(CURDIR) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BIN=$(CURDIR)/$(FUZZ_BUILD)/fuzz \
	  tests/fuzz/run.sh

FUZZ_BIN := $(FUZZ_C:tests/fuzz/%.c=$(BUILD)/fuzz/%)
fuzz-build: $(FUZZ_BIN)
$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(OPT) -fsanitize=fuzzer,address,undefined -o $@ $< $(LIB) $(LDLIBS_ALL)

# Longer reliability suites (fault injection, soak): tests/long/*.sh.
check-long: $(BIN) $(TEST_BIN)
	@DSE_BIN=$(CURDIR)/$(BIN) DSE_SRCDIR=$(CURDIR) DSE_TEST_BIN=$(CURDIR)/$(BUILD)/tests \
	  tests/run-scripts.sh long

# The catalog and themes are compiled in; the installed copies are for
# reading and for `dse init --catalog DIR` with edited signatures.
install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/dse/catalog $(DESTDIR)$(PREFIX)/share/dse/themes
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/dse
	install -m 644 db/catalog/*.json $(DESTDIR)$(PREFIX)/share/dse/catalog/
	install -m 644 themes/*.theme $(DESTDIR)$(PREFIX)/share/dse/themes/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/dse
	rm -rf $(DESTDIR)$(PREFIX)/share/dse

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
