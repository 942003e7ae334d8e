# dwf: durable workflows compiled to C.
#
#   make                      build/dwf (the CLI), build/libdwf.a (what a Lambda zip links) and
#                             build/libdwf-host.a (what only runs on a developer's machine)
#   make check                every test suite (tests/run.sh prints "N passed, N failed")
#   make SANITIZE=address,undefined check   the same under ASan + UBSan (in build/san/)
#   make VALGRIND=1 check     the same with the test programs under valgrind
#   make fuzz                 short libFuzzer runs: front end, C generation, JSON parser (clang)
#   make golden-update        rewrite golden files from the current compiler (and graphs)
#   make pictures             the approval and fanout graphs and timelines (SVG) in build/pictures/, and
#                             the web console's screenshots of them in build/console-pictures/
#                             (tests/console in headless Chromium: make deps installs it)
#
# One folder per part (README.md has the map). Each folder compiles with only the include
# paths of what it may use (INC_<folder> below; each folder's README says why), so an include
# the layering forbids fails to compile. Sources are picked up by directory.

CC       ?= cc
CSTD      = -std=c11 -D_GNU_SOURCE
WARN      = -Wall -Wextra -Werror
OPT      ?= -O2 -g
# libcurl, OpenSSL and zlib link statically (SQLite too, for the dwf command): Debian's
# libcurl.so.4 alone maps ~30 shared libraries (LDAP, Kerberos, GnuTLS, ssh2, nghttp2, ...) in
# every process, which was most of the dwf process's memory floor and of a Lambda program's
# start-up. libcurl is the minimal build `make deps` makes once per machine (.ci/deps.sh:
# HTTP(S) over OpenSSL, zlib, nothing else), copied to $(BUILD)/libcurl-dwf.a, where `dwf build`
# finds it for the Lambda program too. cJSON stays shared here (workflow handlers that `dwf run`
# loads resolve cJSON_* from it); the Lambda program, a static executable, links the static
# cJSON `make deps` also builds ($(BUILD)/libcjson-dwf.a).
DEPS_LIBS = $(BUILD)/libcurl-dwf.a -Wl,-Bstatic -lexpat -lssl -lcrypto -lsqlite3 -lz -Wl,-Bdynamic \
            -lcjson -lpthread -ldl -lm
# Where .ci/deps.sh keeps that libcurl (include/, lib/libcurl.a). Asked on first use, once per
# make run, so `make deps check` sees the cache deps just built.
CURL_DIR = $(eval CURL_DIR := $(shell bash .ci/deps.sh --curl-dir))$(CURL_DIR)
CJSON_DIR = $(eval CJSON_DIR := $(shell bash .ci/deps.sh --cjson-dir))$(CJSON_DIR)
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

# ---- the layering: what each folder may include -------------------------------------------
# include/ holds the contracts (dwf.h for generated code, dwf_host.h for hosts); the Lambda side
# (sdk, aws, lambda) never sees the developer-machine side (service, emulator, package, util),
# the runtime never sees the compiler, and only cli/ sees everything.
INC_util     = -Iutil
INC_aws      = -Iinclude -Iaws
INC_sdk      = -Iinclude -Isdk -Iaws
# lambda/ sees util/ for memcache.h alone (its cJSON allocator, which SQLite's shares): that one
# util file is archived in libdwf.a, since every Lambda program links it.
INC_lambda   = -Iinclude -Iaws -Ilambda -Iutil
INC_service  = -Iinclude -Iutil -Iservice
INC_emulator = -Iinclude -Iutil -Iaws -Iservice -Iemulator
INC_package  = -Iinclude -Iutil -Ipackage
INC_console  = -Iinclude -Iutil -Iservice -Iconsole
INC_grammar  = -Iinclude -Igrammar -I$(BUILD)/gen
INC_codegen  = -Iinclude -Iutil -Igrammar -Icodegen
INC_testing  = -Iinclude -Iutil -Iservice -Itesting -I$(BUILD)/gen/testing
INC_cli      = -Iinclude -Iutil -Iservice -Iemulator -Iconsole -Ipackage -Igrammar -Icodegen -Itesting -I$(BUILD)/gen \
               -I$(BUILD)/gen/testing
# Tests are white-box: they see every folder.
INC_tests    = -Iinclude -Iutil -Iaws -Isdk -Ilambda -Iservice -Iemulator -Iconsole -Ipackage -Igrammar \
               -Icodegen -I$(BUILD)/gen -Itests/unit
INC_of       = $(INC_$(firstword $(subst /, ,$(1))))

CFLAGS_BASE = $(CSTD) $(WARN) $(OPT) $(SANFLAGS) -fPIC -MMD -MP -I$(CURL_DIR)/include $(CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

# The Lambda program's main and the zip's bootstrap are built alone, never archived.
LAMBDA_ALONE = lambda/lambda_main.c lambda/bootstrap.c
# util/ files the Lambda side uses too: in libdwf.a (every zip), not libdwf-host.a.
UTIL_SHARED = util/memcache.c
LIB_SRC     = $(wildcard sdk/*.c aws/*.c) $(filter-out $(LAMBDA_ALONE),$(wildcard lambda/*.c)) $(UTIL_SHARED)
HOST_SRC    = $(wildcard service/*.c emulator/*.c console/*.c package/*.c) $(filter-out $(UTIL_SHARED),$(wildcard util/*.c))
FRONT_SRC   = $(wildcard grammar/*.c)
CODEGEN_SRC = $(wildcard codegen/*.c)
CLI_SRC     = $(wildcard cli/*.c)
TESTING_SRC = $(wildcard testing/*.c)
GEN_SRC     = $(BUILD)/gen/parser.c $(BUILD)/gen/lexer.c

LIB_OBJ     = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# The console's assets (console/assets/*) compiled in as C arrays (console/embed.sh).
CONSOLE_ASSETS = $(sort $(wildcard console/assets/*))
HOST_OBJ    = $(HOST_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/console_assets.o
FRONT_OBJ   = $(FRONT_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/parser.o $(BUILD)/obj/gen/lexer.o
CODEGEN_OBJ = $(CODEGEN_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ     = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TESTING_OBJ = $(TESTING_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/testing/tparser.o $(BUILD)/obj/gen/testing/tlexer.o
MAIN_OBJ    = $(BUILD)/obj/lambda/lambda_main.o

UNIT_SRC    = $(wildcard tests/unit/test_*.c)
UNIT_BIN    = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

LIBS        = $(BUILD)/libdwf-host.a $(BUILD)/libdwf.a $(BUILD)/libcurl-dwf.a
# libdwf.a whole: handlers that `dwf run` loads resolve every dwf_* from the program.
LINK_LIBS   = $(BUILD)/libdwf-host.a -Wl,--whole-archive $(BUILD)/libdwf.a -Wl,--no-whole-archive $(DEPS_LIBS)

.PHONY: all check unit fuzz golden-update clean deps demo curl-missing cjson-missing pictures console-pictures
all: $(BUILD)/dwf $(LIBS) $(BUILD)/lambda_main.o $(BUILD)/lambda_bootstrap $(BUILD)/libcjson-dwf.a

# One bison run makes both files (a grouped target: make -j never runs it twice).
$(BUILD)/gen/parser.c $(BUILD)/gen/parser.h &: grammar/parser.y
	@mkdir -p $(BUILD)/gen
	bison -Wall -Werror --defines=$(BUILD)/gen/parser.h -o $(BUILD)/gen/parser.c $<

# lexer.c includes parser.h but flex never reads it: the scanner is regenerated only when
# lexer.l changes (lexer.o, which does read parser.h, tracks it through its .d file).
$(BUILD)/gen/lexer.c $(BUILD)/gen/lexer.h &: grammar/lexer.l | $(BUILD)/gen/parser.h
	@mkdir -p $(BUILD)/gen
	flex --header-file=$(BUILD)/gen/lexer.h -o $(BUILD)/gen/lexer.c $<

# The test-file language (testing/): its own scanner and parser, prefix dwt; named tparser / tlexer
# so that no include of "parser.h" can find the wrong one.
$(BUILD)/gen/testing/tparser.c $(BUILD)/gen/testing/tparser.h &: testing/parser.y
	@mkdir -p $(BUILD)/gen/testing
	bison -Wall -Werror --defines=$(BUILD)/gen/testing/tparser.h -o $(BUILD)/gen/testing/tparser.c $<
$(BUILD)/gen/testing/tlexer.c $(BUILD)/gen/testing/tlexer.h &: testing/lexer.l | $(BUILD)/gen/testing/tparser.h
	@mkdir -p $(BUILD)/gen/testing
	flex --header-file=$(BUILD)/gen/testing/tlexer.h -o $(BUILD)/gen/testing/tlexer.c $<
$(BUILD)/obj/gen/testing/%.o: $(BUILD)/gen/testing/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(INC_testing) -Wno-sign-compare -Wno-unused-function -Wno-unused-parameter -c -o $@ $<
$(TESTING_SRC:%.c=$(BUILD)/obj/%.o): | $(BUILD)/gen/testing/tparser.h $(BUILD)/gen/testing/tlexer.h

# Generated scanner/parser: flex output trips -Wsign-compare etc.; keep -Werror for the rest.
$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(INC_grammar) -Wno-sign-compare -Wno-unused-function -Wno-unused-parameter -c -o $@ $<

$(BUILD)/gen/console_assets.c: console/embed.sh $(CONSOLE_ASSETS)
	@mkdir -p $(dir $@)
	sh console/embed.sh $@ $(CONSOLE_ASSETS)

$(BUILD)/obj/gen/console_assets.o: $(BUILD)/gen/console_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(INC_console) -c -o $@ $<

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(call INC_of,$<) -c -o $@ $<

# The front end, codegen and CLI include the generated parser/lexer headers: they must exist
# before the first compile writes the .d files that track them from then on.
$(FRONT_SRC:%.c=$(BUILD)/obj/%.o) $(CODEGEN_OBJ) $(CLI_OBJ) $(UNIT_BIN): | $(BUILD)/gen/parser.h $(BUILD)/gen/lexer.h
$(CLI_OBJ): | $(BUILD)/gen/testing/tparser.h $(BUILD)/gen/testing/tlexer.h

$(BUILD)/libdwf.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libdwf-host.a: $(HOST_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The minimal libcurl from the per-machine cache (make deps). The prerequisite is expanded only
# when make gets here, after `make deps` in `make deps check` has built the cache.
.SECONDEXPANSION:
CURL_LIB = $(if $(wildcard $(CURL_DIR)/lib/libcurl.a),$(CURL_DIR)/lib/libcurl.a,curl-missing)
$(BUILD)/libcurl-dwf.a: $$(CURL_LIB)
	@mkdir -p $(dir $@)
	cp $< $@
curl-missing:
	@echo "error: the minimal static libcurl is not built ($(CURL_DIR)/lib/libcurl.a is missing): run 'make deps'" >&2
	@exit 1
# The static cJSON the Lambda program links, from the same cache (make deps), beside libdwf.a.
CJSON_LIB = $(if $(wildcard $(CJSON_DIR)/lib/libcjson.a),$(CJSON_DIR)/lib/libcjson.a,cjson-missing)
$(BUILD)/libcjson-dwf.a: $$(CJSON_LIB)
	@mkdir -p $(dir $@)
	cp $< $@
cjson-missing:
	@echo "error: the static cJSON is not built ($(CJSON_DIR)/lib/libcjson.a is missing): run 'make deps'" >&2
	@exit 1

# Where `dwf build` looks for the Lambda program's main (beside libdwf.a).
$(BUILD)/lambda_main.o: $(MAIN_OBJ)
	cp $< $@

# The bootstrap of a sanitizer build's zip (lambda/bootstrap.c; a normal build's program is
# static and is the zip's bootstrap itself): static and without libc (it calls the kernel
# itself, see the file for why), never sanitized; `dwf build` copies it byte for byte into
# such zips. -fno-builtin and -fno-stack-protector: nothing may call into a libc.
$(BUILD)/lambda_bootstrap: lambda/bootstrap.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O2 -ffreestanding -fno-builtin -fno-stack-protector -fno-pie \
	  -static -nostdlib -s -MMD -MP -o $@ $<

# EXPORTS: workflow handlers that `dwf run` compiles to shared objects resolve dwf_* here.
# -no-pie: as a position-independent executable, every start relocated its 23,000 pointers in
# place (most of them OpenSSL's static tables, linked in), which copied 114 pages of the file
# on write, each a page fault: 2.4 of the 3.8 ms CPU of `dwf --version` and about 2 ms of
# every `dwf run` on this VM (perf stat: 196 -> 83 page faults). The shared
# libraries it loads (libc, cJSON, the handlers) are still placed at random.
$(BUILD)/dwf: $(CLI_OBJ) $(FRONT_OBJ) $(CODEGEN_OBJ) $(TESTING_OBJ) $(LIBS)
	$(CC) $(LDFLAGS_ALL) -no-pie $(EXPORTS) -o $@ $(CLI_OBJ) $(FRONT_OBJ) $(CODEGEN_OBJ) $(TESTING_OBJ) $(LINK_LIBS)

# Unit tests: test_rt_*.c link only the runtime (it knows nothing of the compiler); the others
# link the front end and codegen too. Neither links the CLI's main.
$(BUILD)/tests/test_rt_%: tests/unit/test_rt_%.c $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(INC_tests) $(LDFLAGS_ALL) $(EXPORTS) -o $@ $< $(LINK_LIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(FRONT_OBJ) $(CODEGEN_OBJ) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(INC_tests) $(LDFLAGS_ALL) $(EXPORTS) -o $@ $< $(FRONT_OBJ) $(CODEGEN_OBJ) $(LINK_LIBS)

unit: $(UNIT_BIN)

check: all unit
	BUILD=$(BUILD) VALGRIND=$(VALGRIND) SANITIZE=$(SANITIZE) bash tests/run.sh

golden-update: all
	BUILD=$(BUILD) bash tests/golden/run.sh --update
	BUILD=$(BUILD) bash tests/graph/run.sh --update

# `dwf graph` of two examples, laid out by Graphviz, and the timeline of one execution of each
# (`dwf history --format svg`: run on a scratch store, its callbacks answered), to look at
# (docs/graph.md, docs/engine.md).
PICTURES = approval fanout
pictures: $(PICTURES:%=$(BUILD)/pictures/%.svg) $(PICTURES:%=$(BUILD)/pictures/%-timeline.svg) console-pictures
$(BUILD)/pictures/%.svg: examples/%.dwf $(BUILD)/dwf
	@mkdir -p $(dir $@)
	$(BUILD)/dwf graph $< -o $@
$(BUILD)/pictures/%-timeline.svg: examples/%.dwf $(BUILD)/dwf
	@mkdir -p $(dir $@)
	@set -e; s=$$(mktemp -d); trap 'rm -rf "$$s"' EXIT; \
	$(BUILD)/dwf run $< --detach --skip-time --quiet --store $$s/s.db >$$s/run.out 2>&1; \
	for id in $$(sed -n "s/^waiting for callback '[^']*': //p" $$s/run.out); do \
	  $(BUILD)/dwf callback succeed $$id --result '{"approved": true}' --store $$s/s.db >/dev/null; done; \
	$(BUILD)/dwf resume --skip-time --store $$s/s.db >/dev/null; \
	$(BUILD)/dwf history "$$(sed -n 's/^started //p' $$s/run.out)" --format svg --store $$s/s.db >$@.tmp; \
	mv $@.tmp $@; echo "timeline of $< in $@"

# The web console's list, execution pages, graphs and timelines of the same two examples (and of
# a workflow with hostile names), photographed by tests/console in Chromium.
console-pictures: all
	BUILD=$(BUILD) bash tests/console/run.sh | tee $(BUILD)/console-pictures.log
	@! grep -q '^FAIL' $(BUILD)/console-pictures.log  # no browser, no screenshots: say so
	@echo "screenshots in $(BUILD)/console-pictures/"

# libFuzzer targets, each run FUZZ_SECONDS (default 30; CI: 3 x 30 s) from a corpus of the
# repository's files (the fuzzer adds what it finds to $(BUILD)/fuzz/corpus-*):
#   fuzz_front    scan + parse + check + dump (the front end alone)
#   fuzz_codegen  what checks cleanly through the back end (C, deploy files, graphs), a sample
#                 of the generated C compiled with cc -Werror (tests/fuzz/fuzz_codegen.c)
#   fuzz_json     the value layer's JSON parser and its print/parse round trip
FUZZ_CC ?= clang
FUZZ_FLAGS = $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_RUN = -max_total_time=$${FUZZ_SECONDS:-30}
FUZZ_DIR = $(BUILD)/fuzz
# the example workflows (the *.test.dwf files beside them are dwf test files, not workflows)
EXAMPLE_WORKFLOWS = $(filter-out %.test.dwf,$(wildcard examples/*.dwf))
fuzz: $(GEN_SRC) $(BUILD)/libcurl-dwf.a
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/corpus-codegen $(FUZZ_DIR)/corpus-json
	$(FUZZ_CC) $(FUZZ_FLAGS) $(INC_grammar) \
	  -o $(FUZZ_DIR)/fuzz_front tests/fuzz/fuzz_front.c $(FRONT_SRC) $(GEN_SRC) -lm
	$(FUZZ_CC) $(FUZZ_FLAGS) $(INC_codegen) -I$(BUILD)/gen -o $(FUZZ_DIR)/fuzz_codegen \
	  tests/fuzz/fuzz_codegen.c $(FRONT_SRC) $(GEN_SRC) $(CODEGEN_SRC) util/fs.c -lcrypto -lm
	$(FUZZ_CC) $(FUZZ_FLAGS) $(INC_sdk) -I$(CURL_DIR)/include -o $(FUZZ_DIR)/fuzz_json \
	  tests/fuzz/fuzz_json.c $(wildcard sdk/*.c) aws/sigv4.c $(BUILD)/libcurl-dwf.a -Wl,-Bstatic -lexpat -lssl -lcrypto -lz \
	  -Wl,-Bdynamic -lcjson -lpthread -ldl -lm
	cp $(EXAMPLE_WORKFLOWS) tests/golden/*.dwf tests/diag/*.dwf $(FUZZ_DIR)/corpus/
	cp $(EXAMPLE_WORKFLOWS) tests/golden/*.dwf $(FUZZ_DIR)/corpus-codegen/
	i=0; for f in $$(find tests examples -name '*.json' -size -64k | sort); do \
	  i=$$((i + 1)); cp "$$f" $(FUZZ_DIR)/corpus-json/seed-$$i.json; done
	$(FUZZ_DIR)/fuzz_front $(FUZZ_RUN) -max_len=4096 $(FUZZ_DIR)/corpus
	DWF_FUZZ_DIR=$(FUZZ_DIR) $(FUZZ_DIR)/fuzz_codegen $(FUZZ_RUN) -max_len=4096 $(FUZZ_DIR)/corpus-codegen
	$(FUZZ_DIR)/fuzz_json $(FUZZ_RUN) -max_len=16384 $(FUZZ_DIR)/corpus-json

# Install the Debian packages and npm packages the build and the tests use.
deps:
	bash .ci/deps.sh

# The main job: run the seed's order workflow on the embedded engine.
demo: all
	$(BUILD)/dwf run examples/order.dwf --input '{"orderId":"ORD-001"}'

clean:
	rm -rf build

# Every object, test program and the bootstrap record the headers they read (-MMD).
-include $(wildcard $(LIB_OBJ:.o=.d) $(HOST_OBJ:.o=.d) $(FRONT_OBJ:.o=.d) $(CODEGEN_OBJ:.o=.d) \
                    $(CLI_OBJ:.o=.d) $(TESTING_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_BIN:=.d) $(BUILD)/lambda_bootstrap.d)
