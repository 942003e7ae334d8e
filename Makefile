# dwf: durable workflows compiled to C.
#
#   make                      build/dwf (the CLI) and build/libdwf.a (the runtime)
#   make check                every test suite (tests/run.sh prints "N passed, N failed")
#   make SANITIZE=address,undefined check   the same under ASan + UBSan (in build/san/)
#   make VALGRIND=1 check     the same with the test programs under valgrind
#   make fuzz                 a short libFuzzer run over parse + check (clang)
#   make golden-update        rewrite golden files from the current compiler
#
# Sources are picked up by directory: runtime/*.c make libdwf (runtime/lambda_main.c, the Lambda
# program's main, and runtime/lambda_bootstrap.c, the zip's static bootstrap, are kept out of
# the archive), grammar/ codegen/ cli/ make the CLI, tests/unit/test_*.c are unit test programs.

CC       ?= cc
CSTD      = -std=c11 -D_GNU_SOURCE
WARN      = -Wall -Wextra -Werror
OPT      ?= -O2 -g
# libcurl, OpenSSL, SQLite and zlib link statically: Debian's libcurl.so.4 alone maps ~30 shared
# libraries (LDAP, Kerberos, GnuTLS, ssh2, nghttp2, ...) in every process, which was most of the
# dwf process's memory floor and of a Lambda program's start-up. libcurl is the minimal build
# `make deps` makes once per machine (.ci/deps.sh: HTTP(S) over OpenSSL, zlib, nothing else),
# copied to $(BUILD)/libcurl-dwf.a, where `dwf build` finds it for the Lambda program too.
# cJSON stays shared: one small library, and workflow handlers resolve cJSON_* from it.
DEPS_LIBS = $(BUILD)/libcurl-dwf.a -Wl,-Bstatic -lssl -lcrypto -lsqlite3 -lz -Wl,-Bdynamic \
            -lcjson -lpthread -ldl -lm
# Where .ci/deps.sh keeps that libcurl (include/, lib/libcurl.a). Asked on first use, once per
# make run, and only from recipes, so `make deps check` sees the cache deps just built.
CURL_DIR = $(eval CURL_DIR := $(shell bash .ci/deps.sh --curl-dir))$(CURL_DIR)
# Programs that load workflow handlers export what a handler and its `use`d C may call: the
# dwf_* API, and SQLite's API, which handlers found in the process while it was a shared
# library (tests/fault/effects.c records its effects with SQLite). Not everything (-rdynamic):
# exporting the static OpenSSL and zlib would make them interpose on the shared copies that
# libraries such as libzip load. (The minimal libcurl hides its symbols; it cannot be exported.)
EXPORTS = -Wl,--export-dynamic-symbol='dwf_*' -Wl,--export-dynamic-symbol='sqlite3_*'

ifdef SANITIZE
BUILD    ?= build/san
SANFLAGS  = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD    ?= build
SANFLAGS  =
endif

CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(SANFLAGS) -fPIC -MMD -MP -Iruntime -Igrammar -Icodegen -I$(BUILD)/gen -I$(CURL_DIR)/include $(CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

RUNTIME_SRC = $(filter-out runtime/lambda_main.c runtime/lambda_bootstrap.c,$(wildcard runtime/*.c))
FRONT_SRC   = $(wildcard grammar/*.c)
CODEGEN_SRC = $(wildcard codegen/*.c)
CLI_SRC     = $(wildcard cli/*.c)
GEN_SRC     = $(BUILD)/gen/parser.c $(BUILD)/gen/lexer.c

RUNTIME_OBJ = $(RUNTIME_SRC:%.c=$(BUILD)/obj/%.o)
FRONT_OBJ   = $(FRONT_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/parser.o $(BUILD)/obj/gen/lexer.o
CODEGEN_OBJ = $(CODEGEN_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ     = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)

UNIT_SRC    = $(wildcard tests/unit/test_*.c)
UNIT_BIN    = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all check unit fuzz golden-update clean deps demo FORCE
all: $(BUILD)/dwf $(BUILD)/libdwf.a $(BUILD)/libcurl-dwf.a $(if $(wildcard runtime/lambda_main.c),$(BUILD)/lambda_main.o) \
     $(if $(wildcard runtime/lambda_bootstrap.c),$(BUILD)/lambda_bootstrap)

$(BUILD)/gen/parser.c $(BUILD)/gen/parser.h: grammar/parser.y
	@mkdir -p $(BUILD)/gen
	bison -Wall -Werror --defines=$(BUILD)/gen/parser.h -o $(BUILD)/gen/parser.c $<

$(BUILD)/gen/lexer.c $(BUILD)/gen/lexer.h: grammar/lexer.l $(BUILD)/gen/parser.h
	@mkdir -p $(BUILD)/gen
	flex --header-file=$(BUILD)/gen/lexer.h -o $(BUILD)/gen/lexer.c $<

# Generated scanner/parser: flex output trips -Wsign-compare etc.; keep -Werror for the rest.
$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Wno-sign-compare -Wno-unused-function -Wno-unused-parameter -c -o $@ $<

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

# Front-end, codegen and CLI sources include the generated parser/lexer headers.
$(FRONT_SRC:%.c=$(BUILD)/obj/%.o) $(CODEGEN_OBJ) $(CLI_OBJ): | $(BUILD)/gen/parser.h $(BUILD)/gen/lexer.h

$(BUILD)/libdwf.a: $(RUNTIME_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Checked on every run (FORCE) but copied only when it differs, so a rebuilt cache relinks
# and an unchanged one does not.
$(BUILD)/libcurl-dwf.a: FORCE
	@if [ ! -f "$(CURL_DIR)/lib/libcurl.a" ]; then \
	  echo "error: the minimal static libcurl is not built ($(CURL_DIR)/lib/libcurl.a is missing): run 'make deps'" >&2; \
	  exit 1; fi
	@mkdir -p $(dir $@)
	@cmp -s "$(CURL_DIR)/lib/libcurl.a" $@ || { echo "cp $(CURL_DIR)/lib/libcurl.a $@"; cp "$(CURL_DIR)/lib/libcurl.a" $@; }

$(BUILD)/lambda_main.o: runtime/lambda_main.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

# The zip's bootstrap (runtime/lambda_bootstrap.c): static and without libc (it calls the
# kernel itself, see the file for why), never sanitized; `dwf build` copies it byte for byte
# into every zip. -fno-builtin and -fno-stack-protector: nothing may call into a libc.
$(BUILD)/lambda_bootstrap: runtime/lambda_bootstrap.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O2 -ffreestanding -fno-builtin -fno-stack-protector -fno-pie \
	  -static -nostdlib -s -o $@ $<

# EXPORTS: workflow handlers that `dwf run` compiles to shared objects resolve dwf_* here.
$(BUILD)/dwf: $(CLI_OBJ) $(FRONT_OBJ) $(CODEGEN_OBJ) $(BUILD)/libdwf.a $(BUILD)/libcurl-dwf.a
	$(CC) $(LDFLAGS_ALL) $(EXPORTS) -o $@ $(CLI_OBJ) $(FRONT_OBJ) $(CODEGEN_OBJ) -Wl,--whole-archive $(BUILD)/libdwf.a -Wl,--no-whole-archive $(DEPS_LIBS)

# Unit tests: test_rt_*.c link only libdwf (the runtime knows nothing of the compiler);
# the others link the front end and codegen too. Neither links the CLI's main.
$(BUILD)/tests/test_rt_%: tests/unit/test_rt_%.c $(BUILD)/libdwf.a $(BUILD)/libcurl-dwf.a tests/unit/tinytest.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) $(EXPORTS) -Itests/unit -o $@ $< -Wl,--whole-archive $(BUILD)/libdwf.a -Wl,--no-whole-archive $(DEPS_LIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(FRONT_OBJ) $(CODEGEN_OBJ) $(BUILD)/libdwf.a $(BUILD)/libcurl-dwf.a tests/unit/tinytest.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) $(EXPORTS) -Itests/unit -o $@ $< $(FRONT_OBJ) $(CODEGEN_OBJ) -Wl,--whole-archive $(BUILD)/libdwf.a -Wl,--no-whole-archive $(DEPS_LIBS)

unit: $(UNIT_BIN)

check: all unit
	BUILD=$(BUILD) VALGRIND=$(VALGRIND) SANITIZE=$(SANITIZE) bash tests/run.sh

golden-update: all
	BUILD=$(BUILD) bash tests/golden/run.sh --update

FUZZ_CC ?= clang
fuzz: $(BUILD)/gen/parser.c $(BUILD)/gen/lexer.c
	@mkdir -p $(BUILD)/fuzz
	$(FUZZ_CC) $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined -Iruntime -Igrammar -I$(BUILD)/gen \
	  -o $(BUILD)/fuzz/fuzz_front tests/fuzz/fuzz_front.c $(FRONT_SRC) $(GEN_SRC) -lm
	mkdir -p $(BUILD)/fuzz/corpus && cp examples/*.dwf tests/golden/*.dwf tests/diag/*.dwf $(BUILD)/fuzz/corpus/ 2>/dev/null || true
	$(BUILD)/fuzz/fuzz_front -max_total_time=$${FUZZ_SECONDS:-60} -max_len=4096 $(BUILD)/fuzz/corpus

# Install the Debian packages and npm packages the build and the tests use.
deps:
	bash .ci/deps.sh

# The main job: run the seed's order workflow on the embedded engine.
demo: all
	$(BUILD)/dwf run examples/order.dwf --input '{"orderId":"ORD-001"}'

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
