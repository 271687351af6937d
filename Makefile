# sockloop: build, test, install. `make demo` and `make test` are the two
# commands a new machine needs; see README.md.

PREFIX     ?= /usr/local
DESTDIR    ?=
LIBDIR_INSTALL ?= $(PREFIX)/lib
CARGO      ?= cargo
CC         ?= cc
PYTHON     ?= python3

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))

BUILD   := build
LIB     := $(BUILD)/lib
SONAME  := libsockloop.so.$(MAJOR)
REALSO  := libsockloop.so.$(VERSION)
RELEASE := target/release

CSTD     := -std=c11 -D_GNU_SOURCE
CWARN    := -Wall -Wextra -Wpedantic -Werror
CFLAGS   ?= -O2 -g
ALL_CFLAGS = $(CSTD) $(CWARN) $(CFLAGS) -Iinclude
LINK_SHARED = -L$(LIB) -lsockloop -Wl,-rpath,$(abspath $(LIB))
LINK_STATIC = $(LIB)/libsockloop.a $(NATIVE_LIBS)
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# What a static link needs besides libsockloop.a, as rustc reports it.
NATIVE_LIBS = $(shell cat $(BUILD)/native-static-libs 2>/dev/null)

C_TESTS     := $(basename $(notdir $(wildcard tests/c/test_*.c)))
C_EXAMPLES  := $(basename $(notdir $(wildcard c_examples/*.c)))
BENCHES     := $(filter-out echo_uv_server,$(basename $(notdir $(wildcard bench/*.c))))
VENV        := $(BUILD)/venv

.PHONY: all lib header examples demo test test-rust test-c test-c-asan test-c-valgrind \
        test-python test-python-dist test-install test-examples test-examples-asan python-package bench install uninstall clean

all: lib

# cargo decides what is stale; the copies below are refreshed only when changed.
lib:
	$(CARGO) build --release
	@mkdir -p $(LIB)
	@cmp -s $(RELEASE)/libsockloop.so $(LIB)/$(REALSO) || cp $(RELEASE)/libsockloop.so $(LIB)/$(REALSO)
	@cmp -s $(RELEASE)/libsockloop.a $(LIB)/libsockloop.a || cp $(RELEASE)/libsockloop.a $(LIB)/libsockloop.a
	@ln -sf $(REALSO) $(LIB)/$(SONAME)
	@ln -sf $(SONAME) $(LIB)/libsockloop.so
	@test -s $(BUILD)/native-static-libs || { \
	  echo '' > $(BUILD)/probe.rs && \
	  rustc --crate-type staticlib --print native-static-libs -o $(BUILD)/probe.a $(BUILD)/probe.rs 2>&1 \
	    | sed -n 's/^note: native-static-libs: //p' > $(BUILD)/native-static-libs; \
	  rm -f $(BUILD)/probe.rs $(BUILD)/probe.a; }

# Regenerates the committed header (tests/header.rs fails when it is stale).
header:
	SOCKLOOP_WRITE_HEADER=1 $(CARGO) build --release

# ---------------------------------------------------------------- examples
examples: lib
	@mkdir -p $(BUILD)/examples
	@set -e; for ex in $(C_EXAMPLES); do \
	  echo "  CC  c_examples/$$ex.c"; \
	  $(CC) $(ALL_CFLAGS) -o $(BUILD)/examples/$$ex c_examples/$$ex.c $(LINK_SHARED) -lpthread; \
	done

demo: examples
	@sh c_examples/demo.sh $(BUILD)/examples

# ---------------------------------------------------------------- tests
TEST_SUITES := test-rust test-c test-python-dist test-install test-examples test-examples-asan

# Runs every suite (stopping at the first that fails), keeps each one's output
# in build/test-logs, and ends with one line adding up all their counts.
test:
	@rm -rf $(BUILD)/test-logs && mkdir -p $(BUILD)/test-logs
	@for s in $(TEST_SUITES); do \
	  { $(MAKE) --no-print-directory $$s 2>&1; echo $$? > $(BUILD)/test-logs/$$s.rc; } | tee $(BUILD)/test-logs/$$s.log; \
	  [ "$$(cat $(BUILD)/test-logs/$$s.rc)" = 0 ] || { echo "make test: $$s failed"; sh tests/summary.sh $(BUILD)/test-logs/*.log; exit 1; }; \
	done
	@sh tests/summary.sh $(BUILD)/test-logs/*.log

test-rust: lib
	$(CARGO) test --release
	# The selector's poll backend, kept alive on Linux (own target dir: no rebuild of the main one).
	$(CARGO) test --release --features poll-backend --target-dir target/poll-backend --test selector

$(BUILD)/tests/%: tests/c/%.c tests/c/harness.h include/sockloop.h c_examples/appmsg.h lib
	@mkdir -p $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LINK_SHARED)
	$(CC) $(ALL_CFLAGS) -o $@.static $< $(LINK_STATIC)
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -o $@.asan $< $(LINK_STATIC)

test-c: $(addprefix $(BUILD)/tests/,$(C_TESTS))
	@set -e; for t in $(C_TESTS); do \
	  echo "== $$t (shared)"; $(BUILD)/tests/$$t; \
	  echo "== $$t (static)"; $(BUILD)/tests/$$t.static; \
	  echo "== $$t (ASan+UBSan)"; ASAN_OPTIONS=detect_leaks=1 $(BUILD)/tests/$$t.asan; \
	done
	@$(MAKE) --no-print-directory test-c-valgrind

test-c-valgrind: $(addprefix $(BUILD)/tests/,$(C_TESTS))
	@if ! command -v valgrind >/dev/null; then \
	  echo "SKIP valgrind: not installed (apt-get install valgrind)"; exit 0; fi; \
	set -e; for t in $(C_TESTS); do \
	  echo "== $$t (valgrind memcheck)"; \
	  SL_TEST_SLOW=1 valgrind -q --error-exitcode=99 --child-silent-after-fork=yes --leak-check=full --show-leak-kinds=definite,indirect \
	    --errors-for-leak-kinds=definite,indirect $(BUILD)/tests/$$t; \
	done

$(VENV)/bin/pytest:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check pytest

# The Python tests against the source tree and build/lib (the quick loop).
test-python: lib $(VENV)/bin/pytest
	SOCKLOOP_LIB=$(abspath $(LIB)/libsockloop.so) $(VENV)/bin/pytest -q tests/python

# ---------------------------------------------------------------- Python package
# The wheel and the sdist, built by the package's own backend (setuptools-rust
# compiles the crate; CARGO_TARGET_DIR=target reuses the dependencies `make`
# built, so each artifact recompiles only the sockloop crate).
PYDIST   := $(BUILD)/pydist
PYBUILD  := $(VENV)/.pybuild-deps
PIP      := --quiet --disable-pip-version-check
CARGO_TARGET_DIR_PY := $(abspath target)

$(PYBUILD): $(VENV)/bin/pytest
	$(VENV)/bin/pip install $(PIP) "setuptools>=64" "setuptools-rust>=1.7" wheel build
	@touch $@

python-package: lib $(PYBUILD)
	@rm -rf $(PYDIST) bindings/python/build bindings/python/sockloop.egg-info && mkdir -p $(PYDIST)
	$(VENV)/bin/python -m build --sdist --no-isolation --outdir $(PYDIST) bindings/python >/dev/null
	CARGO_TARGET_DIR=$(CARGO_TARGET_DIR_PY) $(VENV)/bin/pip wheel $(PIP) --no-build-isolation --no-deps -w $(PYDIST) ./bindings/python
	@rm -rf bindings/python/build bindings/python/sockloop.egg-info
	@ls -l $(PYDIST)

# CI for the package: the wheel and the sdist each installed into a fresh venv
# (the sdist through pip's isolated build, as a user's install), and the
# Python tests run against the installed package, not the source tree.
test-python-dist: python-package
	@set -e; for kind in wheel sdist; do \
	  rm -rf $(BUILD)/venv-$$kind; $(PYTHON) -m venv $(BUILD)/venv-$$kind; \
	  if [ $$kind = wheel ]; then art=$$(ls $(PYDIST)/*.whl); else art=$$(ls $(PYDIST)/*.tar.gz); fi; \
	  echo "== $$kind: $$art"; \
	  CARGO_TARGET_DIR=$(CARGO_TARGET_DIR_PY) $(BUILD)/venv-$$kind/bin/pip install $(PIP) "$$art" pytest; \
	  env -u SOCKLOOP_LIB SOCKLOOP_TEST_INSTALLED=1 SOCKLOOP_DIST=$(abspath $(PYDIST)) \
	    $(BUILD)/venv-$$kind/bin/pytest -q -p no:cacheprovider tests/python; \
	done

# Every example end to end, with Python peers, bad input and valgrind, and
# once through the chaos proxy (tests/examples/test_chaos.py).
test-examples: examples $(VENV)/bin/pytest $(BUILD)/tools/chaos_proxy
	$(VENV)/bin/pytest -q tests/examples

# The same end-to-end tests with the examples built under ASan+UBSan, linked
# statically: every buffer the examples hand the library is checked, and leaks
# are errors. (Valgrind runs are skipped here: it cannot run ASan binaries.)
test-examples-asan: lib $(VENV)/bin/pytest $(BUILD)/tools/chaos_proxy
	@mkdir -p $(BUILD)/examples-asan
	@set -e; for ex in $(C_EXAMPLES); do \
	  $(CC) $(ALL_CFLAGS) $(SANITIZE) -o $(BUILD)/examples-asan/$$ex c_examples/$$ex.c $(LINK_STATIC) -lpthread; \
	done
	SL_EXAMPLES_BIN=$(abspath $(BUILD)/examples-asan) ASAN_OPTIONS=detect_leaks=1 $(VENV)/bin/pytest -q tests/examples

# ---------------------------------------------------------------- chaos proxy
# A loopback proxy that splits, delays, stalls and cuts (FIN or RST) streams.
$(BUILD)/tools/chaos_proxy: tests/tools/chaos_proxy.c
	@mkdir -p $(BUILD)/tools
	$(CC) $(CSTD) $(CWARN) $(CFLAGS) -o $@ $<

# Installs into a scratch DESTDIR, then builds a program through pkg-config,
# once against the shared library and once statically.
test-install: lib
	@rm -rf $(BUILD)/stage
	@$(MAKE) --no-print-directory install DESTDIR=$(abspath $(BUILD)/stage) PREFIX=/usr/local >/dev/null
	@sh tests/install_check.sh $(abspath $(BUILD)/stage) /usr/local "$(CC)" "$(CSTD) $(CWARN)"


# ---------------------------------------------------------------- stress
# The long runs (tests/stress.rs, #[ignore]d in `make test`): 10,000
# connections through sl_selector + sl_conn with every byte verified, and long
# signal storms. Bounded: STRESS_SECONDS of traffic per test (two tests), well
# under 10 minutes in all.
STRESS_SECONDS ?= 60
.PHONY: stress
stress: lib
	SL_STRESS_SECONDS=$(STRESS_SECONDS) timeout 600 $(CARGO) test --release --test stress -- --ignored --nocapture --test-threads=1

# ---------------------------------------------------------------- bench
# The libuv baseline needs Debian's libuv1-dev, installed here when missing.
bench: lib examples
	@mkdir -p $(BUILD)/bench bench/results
	@set -e; for b in $(BENCHES); do \
	  $(CC) $(ALL_CFLAGS) -O2 -o $(BUILD)/bench/$$b bench/$$b.c $(LINK_SHARED); done
	@pkg-config --exists libuv 2>/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libuv1-dev >/dev/null 2>&1; } || true
	@if pkg-config --exists libuv 2>/dev/null; then \
	  $(CC) $(ALL_CFLAGS) -O2 -o $(BUILD)/bench/echo_uv_server bench/echo_uv_server.c $$(pkg-config --cflags --libs libuv); \
	else echo "SKIP libuv baseline: libuv1-dev could not be installed"; fi
	@sh bench/run.sh $(BUILD)/bench

# ---------------------------------------------------------------- fuzz
# cargo-fuzz (libFuzzer) targets: frame decoder, delimiter search, the
# readiness functions' argument handling (needs a nightly toolchain); and the
# examples' app-protocol parser (fuzz/c/fuzz_appmsg.c), with libFuzzer where
# $(CC) has -fsanitize=fuzzer, else its own random/mutation driver, both under
# ASan+UBSan. Not part of `make test`. `make fuzz FUZZ_SECONDS=300`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := frame_decode delim_search ready_args
.PHONY: fuzz fuzz-rust fuzz-c
fuzz: fuzz-rust fuzz-c

fuzz-rust:
	@if ! rustup run nightly rustc --version >/dev/null 2>&1; then \
	  echo "SKIP fuzz: no nightly toolchain (rustup toolchain install nightly)"; exit 0; fi; \
	if ! $(CARGO) fuzz --version >/dev/null 2>&1 && ! $(CARGO) install cargo-fuzz --locked; then \
	  echo "SKIP fuzz: cargo-fuzz is missing and could not be installed"; exit 0; fi; \
	set -e; for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	  $(CARGO) +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS); \
	done

fuzz-c:
	@mkdir -p $(BUILD)/fuzz
	@if echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
	    | $(CC) -x c -fsanitize=address,fuzzer -o $(BUILD)/fuzz/probe - >/dev/null 2>&1; then \
	  echo "== fuzz appmsg (libFuzzer) for $(FUZZ_SECONDS) s"; \
	  $(CC) $(CSTD) $(CWARN) -O1 -g -DSL_LIBFUZZER -fsanitize=address,undefined,fuzzer -o $(BUILD)/fuzz/fuzz_appmsg fuzz/c/fuzz_appmsg.c && \
	  $(BUILD)/fuzz/fuzz_appmsg -max_total_time=$(FUZZ_SECONDS); \
	else \
	  echo "== fuzz appmsg (no libFuzzer in $(CC): random and mutated inputs under ASan+UBSan) for $(FUZZ_SECONDS) s"; \
	  $(CC) $(CSTD) $(CWARN) -O1 -g $(SANITIZE) -o $(BUILD)/fuzz/fuzz_appmsg fuzz/c/fuzz_appmsg.c && \
	  $(BUILD)/fuzz/fuzz_appmsg $(FUZZ_SECONDS); \
	fi

# ---------------------------------------------------------------- miri
# The pure Rust code under Miri: frame decoding, the delimiter search, the
# byte-order helpers and the FFI guard. Skipped with a message without nightly.
# Isolation is off only for the proptest cases (proptest looks up the working
# directory for its failure file); PROPTEST_CASES keeps them to minutes.
.PHONY: miri
miri:
	@if ! rustup run nightly rustc --version >/dev/null 2>&1; then \
	  echo "SKIP miri: no nightly toolchain (rustup toolchain install nightly)"; exit 0; fi; \
	if ! $(CARGO) +nightly miri --version >/dev/null 2>&1 && \
	   ! rustup component add miri rust-src --toolchain nightly >/dev/null 2>&1; then \
	  echo "SKIP miri: the nightly toolchain has no miri component"; exit 0; fi; \
	set -e; \
	$(CARGO) +nightly miri test --lib -- frame:: conn:: ffi::tests; \
	$(CARGO) +nightly miri test --test byteorder; \
	MIRIFLAGS=-Zmiri-disable-isolation PROPTEST_CASES=8 \
	  $(CARGO) +nightly miri test --test frame -- split_anywhere resumed_delimiter

# ---------------------------------------------------------------- install
install: lib
	install -d $(DESTDIR)$(LIBDIR_INSTALL) $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(LIBDIR_INSTALL)/pkgconfig
	install -m 755 $(LIB)/$(REALSO) $(DESTDIR)$(LIBDIR_INSTALL)/$(REALSO)
	ln -sf $(REALSO) $(DESTDIR)$(LIBDIR_INSTALL)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR_INSTALL)/libsockloop.so
	install -m 644 $(LIB)/libsockloop.a $(DESTDIR)$(LIBDIR_INSTALL)/libsockloop.a
	install -m 644 include/sockloop.h $(DESTDIR)$(PREFIX)/include/sockloop.h
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR_INSTALL)|; s|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS_PRIVATE@|$(NATIVE_LIBS)|' sockloop.pc.in > $(DESTDIR)$(LIBDIR_INSTALL)/pkgconfig/sockloop.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR_INSTALL)/$(REALSO) $(DESTDIR)$(LIBDIR_INSTALL)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR_INSTALL)/libsockloop.so $(DESTDIR)$(LIBDIR_INSTALL)/libsockloop.a \
	      $(DESTDIR)$(PREFIX)/include/sockloop.h $(DESTDIR)$(LIBDIR_INSTALL)/pkgconfig/sockloop.pc

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
