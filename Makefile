# chatd — build, test and run.
#   make            build/chatd (the server) and build/chatc (the terminal client)
#   make run        build and serve the demo on http://127.0.0.1:8080
#   make test       the layering check, unit tests (check), integration tests (real binary
#                   + mock upstream), web UI unit and browser tests, SDK tests
#   make check-layers  no server module includes a header of a layer above its own
#   make asan       the C suites built with AddressSanitizer + UBSan
#   make tsan       the C suites built with ThreadSanitizer (tests/tsan.supp)
#   make valgrind   the C suites under valgrind (memcheck)
#   make fuzz       the libFuzzer targets, bounded (FUZZ_SECONDS each)
#   make load       the fault-and-load test (2000 concurrent streams, about a minute)
#   make container-test  build the image with podman, run it, stream, stop it
#   make deps       install the Debian packages the build and tests need

CC      ?= cc
BUILD   ?= build
PKGS    := libmicrohttpd libcurl libcjson libutf8proc
OPT     ?= -O2
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter $(SAN) \
           $(shell pkg-config --cflags $(PKGS))
LDFLAGS += $(SAN)
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lhiredis -lpthread -lm
CHECK_LIBS := $(shell pkg-config --libs check)

SRC     := $(wildcard server/*.c server/demo/*.c)
OBJ     := $(SRC:server/%.c=$(BUILD)/obj/%.o)
LIBOBJ  := $(filter-out $(BUILD)/obj/main.o,$(OBJ))
UNITSRC := $(wildcard tests/unit/test_*.c)
UNITBIN := $(UNITSRC:tests/unit/%.c=$(BUILD)/tests/%)
CLISRC  := $(wildcard client-cli/*.c)
CLIOBJ  := $(CLISRC:client-cli/%.c=$(BUILD)/obj/cli/%.o)
# What chatc shares with the server: the SSE parser, the grapheme segmenter, buffers.
CLISHARED := $(addprefix $(BUILD)/obj/,sse_parse.o seg.o buf.o)
TOOLSRC := $(wildcard tests/tools/*.c)
TOOLBIN := $(TOOLSRC:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all ui run test check-layers unit integration web sdk asan tsan valgrind fuzz load bench image container-test podman-setup \
	deps clean format
all: $(BUILD)/chatd $(BUILD)/chatc $(TOOLBIN) ui

# The web UI bundle (npm + esbuild); client-web/Makefile skips work that is up to date.
ui:
	$(MAKE) -s -C client-web build

$(BUILD)/chatd: $(OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/chatc: $(CLIOBJ) $(CLISHARED)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libcurl libcjson libutf8proc)

$(BUILD)/obj/cli/%.o: client-cli/%.c $(wildcard client-cli/*.h server/*.h) | $(BUILD)/obj/cli
	$(CC) $(CFLAGS) -iquote server -iquote client-cli -c -o $@ $<

$(BUILD)/obj/%.o: server/%.c $(wildcard server/*.h server/demo/*.h) | $(BUILD)/obj/demo
	$(CC) $(CFLAGS) -iquote server -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIBOBJ) $(wildcard tests/unit/*.h) | $(BUILD)/tests
	$(CC) $(CFLAGS) -iquote server $(LDFLAGS) -o $@ $< $(LIBOBJ) $(CHECK_LIBS) $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c $(LIBOBJ) | $(BUILD)/tools
	$(CC) $(CFLAGS) -iquote server $(LDFLAGS) -o $@ $< $(LIBOBJ) $(LDLIBS)

$(BUILD)/obj/demo $(BUILD)/obj/cli $(BUILD)/tests $(BUILD)/tools:
	mkdir -p $@

run: $(BUILD)/chatd ui
	./$(BUILD)/chatd

check-layers:
	@python3 scripts/check-layers.py

unit: $(UNITBIN)
	@tests/run-unit.sh $(UNITBIN)

integration: $(BUILD)/chatd $(BUILD)/chatc $(TOOLBIN)
	CHATD_BIN=$(BUILD)/chatd CHATC_BIN=$(BUILD)/chatc python3 tests/integration/run.py

web: $(BUILD)/chatd
	$(MAKE) -C client-web test

sdk: $(BUILD)/chatd
	CHATD_BIN=$(BUILD)/chatd tests/sdk/run.sh

# Builds first (a compile error stops here), then runs every suite and prints one total.
test: $(BUILD)/chatd $(BUILD)/chatc $(UNITBIN) $(TOOLBIN)
	@tests/run-all.sh "layers:python3 scripts/check-layers.py" "unit:$(MAKE) -s unit" \
		"integration:$(MAKE) -s integration" \
		"web:$(MAKE) -s web" "sdk:$(MAKE) -s sdk"

ASAN_FLAGS := BUILD=build/asan OPT=-O1 \
	SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all'
asan:
	$(MAKE) $(ASAN_FLAGS) build/asan/chatd
	@ASAN_OPTIONS=detect_leaks=1 tests/run-all.sh "unit-asan:$(MAKE) -s $(ASAN_FLAGS) unit" \
		"integration-asan:$(MAKE) -s $(ASAN_FLAGS) integration"

# ThreadSanitizer: the unit binaries and chatd run through tests/tsan-chatd.sh, which sets
# TSAN_OPTIONS (any report makes them exit 66) and the suppressions in tests/tsan.supp
# (libmicrohttpd and libcurl are not instrumented; each entry says why it is not chatd's).
TSAN_FLAGS := BUILD=build/tsan OPT=-O1 SAN='-fsanitize=thread -fno-omit-frame-pointer'
tsan:
	$(MAKE) $(TSAN_FLAGS) build/tsan/chatd
	@tests/run-all.sh "unit-tsan:UNIT_WRAP='tests/tsan-chatd.sh --run' $(MAKE) -s $(TSAN_FLAGS) unit" \
		"integration-tsan:CHATD_BIN=tests/tsan-chatd.sh python3 tests/integration/run.py"

# The C suites under valgrind's memcheck: unit tests unforked, chatd itself under the
# integration suite (tests/valgrind-chatd.sh makes any error or leak exit 99).
VG := valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect
valgrind: $(BUILD)/chatd $(UNITBIN)
	@tests/run-all.sh "unit-valgrind:CK_FORK=no UNIT_WRAP='$(VG)' tests/run-unit.sh $(UNITBIN)" \
		"integration-valgrind:CHATD_BIN=tests/valgrind-chatd.sh python3 tests/integration/run.py"

# Thousands of concurrent streams with aborts, drops and resumes, and failing, stalling and
# resetting upstreams; then fds, memory and metrics back to the baseline.
# The second pass: the same with chatd in Redis mode (its own redis-server; 1,000 streams).
load: $(BUILD)/chatd
	@tests/run-all.sh "load:python3 tests/load/fault_load.py" \
		"load-redis:python3 tests/load/fault_load.py --redis --streams 1000"

# chatd beside nginx and the Portkey gateway on the same mock: latency, CPU, memory
# (bench/run.sh; writes the table into docs/BENCHMARKS.md). About 4 minutes.
bench: $(BUILD)/chatd
	CHATD_BIN=$(BUILD)/chatd bench/run.sh

# libFuzzer (clang) targets under ASan/UBSan: the committed corpus replayed, then
# FUZZ_SECONDS (default 60) of fuzzing per target.
fuzz:
	@tests/run-all.sh "fuzz:tests/fuzz/run.sh"

# The container: built and checked for real with podman (scripts/podman-setup.sh prepares
# podman on a Debian machine without a Docker engine).
podman-setup:
	scripts/podman-setup.sh
image: podman-setup
	podman build --pull=never --network=host --format docker --jobs 2 -t chatd .
container-test: podman-setup
	@tests/run-all.sh "container:scripts/container-test.sh"

deps:
	scripts/install-deps.sh

format:
	clang-format -i server/*.c server/*.h tests/unit/*.c

clean:
	rm -rf $(BUILD)
