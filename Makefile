# SPDX-License-Identifier: ISC
# The one Makefile of Iris (non-recursive). Targets:
#   all (default)  libiris.so, libiris.a, irisd, examples
#   check          the whole test suite (make check SANITIZE=1: ASan+UBSan)
#   run            build and run irisd in the foreground on ./data
#   demo           a private irisd and two iris-chat clients that chat
#   deps           install the Debian packages the build and tests need
#   install, uninstall, clean, proto (regenerate nanopb code), fuzz
# Outputs go to build/ (build/san/ for SANITIZE=1).

include config.mk

VERSION := $(shell sed -n 's/^\#define IRIS_VERSION_STRING[[:space:]]*"\(.*\)"/\1/p' include/iris.h)
ABI     := $(shell sed -n 's/^\#define IRIS_ABI[[:space:]]*\([0-9][0-9]*\).*/\1/p' include/iris.h)

ifeq ($(SANITIZE),1)
BUILD   ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	    -fno-omit-frame-pointer
else
BUILD   ?= build
SANFLAGS :=
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

WARNFLAGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	     -Wpointer-arith -Wformat=2 -Wundef -Wvla -Wwrite-strings
ifeq ($(WERROR),1)
WARNFLAGS += -Werror
endif

# Dependencies: mbedTLS and nanopb ship no .pc file on Debian 12, so they are
# linked by name. Expanded lazily (=) so that `make deps` can run first.
LIB_PCS      := libevent_core libevent_extra sqlite3 libsodium
NANOPB_LIBS  := -lprotobuf-nanopb
LIB_CFLAGS   = $(shell $(PKG_CONFIG) --cflags $(LIB_PCS))
LIB_LIBS     = $(NANOPB_LIBS) $(shell $(PKG_CONFIG) --libs $(LIB_PCS)) \
	       $(MBEDTLS_LIBS) -pthread
MBEDTLS_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto
EVENT_LIBS   = $(shell $(PKG_CONFIG) --libs libevent_core)
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check)
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs check)

BASE_CPPFLAGS := -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
LIB_CPPFLAGS  := -Iinclude -Ilib -Iproto $(BASE_CPPFLAGS)
PUB_CPPFLAGS  := -Iinclude $(BASE_CPPFLAGS)
ALL_CFLAGS    := -std=c11 $(WARNFLAGS) -fvisibility=hidden -MMD -MP \
		 $(SANFLAGS) $(CFLAGS)
ALL_LDFLAGS   := $(SANFLAGS) $(LDFLAGS)

# ---------------------------------------------------------------------------
# libiris

LIB_SRCS := $(sort $(wildcard lib/*/*.c)) proto/iris.pb.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_SO   := $(BUILD)/libiris.so.$(ABI)
LIB_A    := $(BUILD)/libiris.a
LIB_MAP  := lib/libiris.map

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(LIB_CPPFLAGS) $(LIB_CFLAGS) $(CPPFLAGS) $(ALL_CFLAGS) -fPIC \
	    -c -o $@ $<

$(LIB_SO): $(LIB_OBJS) $(LIB_MAP)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libiris.so.$(ABI) \
	    -Wl,--version-script=$(LIB_MAP) -Wl,--no-undefined \
	    $(ALL_LDFLAGS) -o $@ $(LIB_OBJS) $(LIB_LIBS)
	$(Q)ln -sf libiris.so.$(ABI) $(BUILD)/libiris.so

$(LIB_A): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $(LIB_OBJS)

# ---------------------------------------------------------------------------
# Programs: compiled against include/ only, linked to the shared library.

IRISD_SRCS := $(sort $(wildcard server/irisd*.c))
# irisctl is its own program (server/irisctl.c).
IRISD_OBJS := $(IRISD_SRCS:%.c=$(BUILD)/obj/%.o)
IRISD      := $(BUILD)/irisd
PROG_LIBS   = -L$(BUILD) -liris $(EVENT_LIBS)

$(BUILD)/obj/server/%.o: server/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(PUB_CPPFLAGS) -DIRIS_SYSCONFDIR=\"$(SYSCONFDIR)\" \
	    $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(IRISD): $(IRISD_OBJS) $(LIB_SO)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(IRISD_OBJS) $(PROG_LIBS)

IRISCTL      := $(BUILD)/irisctl
IRISCTL_OBJS := $(BUILD)/obj/server/irisctl.o

$(IRISCTL): $(IRISCTL_OBJS) $(LIB_SO)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(IRISCTL_OBJS) $(PROG_LIBS)

PROGRAMS := $(IRISD) $(IRISCTL)

# Examples (examples/*.c): one program each, against include/ only.
EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
EXAMPLES     := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

$(BUILD)/obj/examples/%.o: examples/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(PUB_CPPFLAGS) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(LIB_SO)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(PROG_LIBS)

# A sample iris.conf with every option, its default and its description,
# made from the library's own table (irisd -n -vv). The systemd unit
# (server/irisd.service.in) is substituted at install time.
CONF_SAMPLE := $(BUILD)/iris.conf.sample

$(CONF_SAMPLE): $(IRISD)
	$(Q)LD_LIBRARY_PATH=$(BUILD) $(IRISD) -n -vv -f /dev/null > $@ 2>/dev/null


# ---------------------------------------------------------------------------
# Tests

UNIT_SRCS := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_BIN  := $(BUILD)/tests/unit
# Test helpers shared by unit, system and bench programs.
SUPPORT_SRCS := $(sort $(wildcard tests/support/*.c))
SUPPORT_OBJS := $(SUPPORT_SRCS:%.c=$(BUILD)/obj/%.o)

$(BUILD)/obj/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(LIB_CPPFLAGS) -Itests/unit -Itests/support $(CHECK_CFLAGS) \
	    $(LIB_CFLAGS) $(CPPFLAGS) \
	    $(ALL_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(UNIT_BIN): $(UNIT_OBJS) $(SUPPORT_OBJS) $(LIB_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(UNIT_OBJS) $(SUPPORT_OBJS) $(LIB_A) \
	    $(LIB_LIBS) \
	    $(CHECK_LIBS) -pthread

# System tests and benchmarks: each tests/system/*.c and tests/bench/*.c is
# one program, linked with the test helpers of tests/support/ and libiris.a.
SYS_SRCS     := $(sort $(wildcard tests/system/*.c))
SYS_BINS     := $(SYS_SRCS:tests/system/%.c=$(BUILD)/tests/system/%)
BENCH_SRCS   := $(sort $(wildcard tests/bench/*.c))
BENCH_BINS   := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/tests/bench/%)

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(LIB_CPPFLAGS) -Itests/support $(LIB_CFLAGS) $(CPPFLAGS) \
	    $(ALL_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/tests/system/%: $(BUILD)/obj/tests/system/%.o $(SUPPORT_OBJS) \
    $(LIB_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(SUPPORT_OBJS) $(LIB_A) $(LIB_LIBS)

$(BUILD)/tests/bench/%: $(BUILD)/obj/tests/bench/%.o $(SUPPORT_OBJS) \
    $(LIB_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(SUPPORT_OBJS) $(LIB_A) $(LIB_LIBS)

# iris-bench, the load generator (one program of several files).
IRIS_BENCH_SRCS := $(sort $(wildcard tests/bench/iris_bench/*.c))
IRIS_BENCH_OBJS := $(IRIS_BENCH_SRCS:%.c=$(BUILD)/obj/%.o)
IRIS_BENCH      := $(BUILD)/tests/bench/iris-bench
BENCH_BINS      += $(IRIS_BENCH)

$(IRIS_BENCH): $(IRIS_BENCH_OBJS) $(SUPPORT_OBJS) $(LIB_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(IRIS_BENCH_OBJS) $(SUPPORT_OBJS) \
	    $(LIB_A) $(LIB_LIBS)

FUZZ_BIN  := $(BUILD)/tests/fuzz_frame
FUZZ_SRCS := tests/fuzz/fuzz_frame.c $(filter lib/util/% lib/wire/%,$(LIB_SRCS)) \
	     proto/iris.pb.c

$(FUZZ_BIN): $(FUZZ_SRCS) $(wildcard lib/*/*.h) include/iris.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(LIB_CPPFLAGS) -std=c11 -g -O1 \
	    -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_SRCS) \
	    $(NANOPB_LIBS)

# The E2EE parsers (envelopes, X3DH, state bytes): lib/e2ee and the
# allocation wrappers, on libsodium.
FUZZ_E2EE_BIN  := $(BUILD)/tests/fuzz_e2ee
FUZZ_E2EE_SRCS := tests/fuzz/fuzz_e2ee.c $(filter lib/e2ee/%,$(LIB_SRCS)) \
		  lib/util/alloc.c
SODIUM_CFLAGS   = $(shell $(PKG_CONFIG) --cflags libsodium)
SODIUM_LIBS     = $(shell $(PKG_CONFIG) --libs libsodium)

$(FUZZ_E2EE_BIN): $(FUZZ_E2EE_SRCS) $(wildcard lib/e2ee/*.h) include/iris.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(LIB_CPPFLAGS) $(SODIUM_CFLAGS) -std=c11 -g -O1 \
	    -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_E2EE_SRCS) \
	    $(SODIUM_LIBS)

.PHONY: all lib programs examples tests check _check run _run deps install uninstall \
	clean proto fuzz fuzz-corpus fuzz-corpus-e2ee demo bench bench-store \
	bench-conn bench-msg bench-client bench-e2ee
all: lib programs examples $(CONF_SAMPLE)
examples: $(EXAMPLES)
lib: $(LIB_SO) $(LIB_A)
programs: $(PROGRAMS)
tests: $(UNIT_BIN) $(SYS_BINS) $(BENCH_BINS)

# `make check` and `make run` install missing packages first (make deps),
# then build in a second make so that pkg-config sees the new packages.
check: deps
	$(Q)$(MAKE) --no-print-directory _check
run: deps
	$(Q)$(MAKE) --no-print-directory _run

deps:
	$(Q)sh tests/deps.sh

_check: all tests
	@echo "== unit tests ($(UNIT_BIN))"
	$(Q)CK_TIMEOUT_MULTIPLIER=$(if $(filter 1,$(SANITIZE)),4,1) $(UNIT_BIN)
	@echo "== public headers are self-contained (C99 and C++)"
	$(Q)for h in include/*.h; do \
	    printf '#include <%s>\n' "$${h#include/}" | $(CC) -std=c99 \
	    -pedantic -Wall -Wextra -Werror -Iinclude -x c -fsyntax-only - && \
	    printf '#include <%s>\n' "$${h#include/}" | $(CXX) -std=c++11 \
	    -pedantic -Wall -Wextra -Werror -Iinclude -x c++ -fsyntax-only - \
	    || exit 1; done
	$(Q)$(CC) -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude \
	    -fsyntax-only tests/hdr/hdr.c
	$(Q)$(CXX) -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude \
	    -fsyntax-only tests/hdr/hdr.cc
	@echo "== exported symbols match $(LIB_MAP)"
	$(Q)sh tests/lint/exports.sh $(LIB_SO) $(LIB_MAP)
	@echo "== layering"
	$(Q)sh tests/lint/layers.sh
	@echo "== man pages (groff -ww)"
	$(Q)sh tests/lint/man.sh
	$(Q)sh tests/lint/confdoc.sh $(BUILD)
	@echo "== generated protocol code is current"
	$(Q)sh tests/lint/proto.sh $(NANOPB_GEN) $(BUILD)
	@echo "== system tests"
	$(Q)sh tests/system/run.sh $(BUILD) $(SYS_BINS)
	@echo "== iris-bench smoke run (traffic, no loss)"
	$(Q)sh tests/system/bench_smoke.sh $(BUILD)
	@echo "== irisd"
	$(Q)sh tests/system/irisd_smoke.sh $(BUILD)
	@echo "== examples"
	$(Q)sh tests/system/examples.sh $(BUILD)
	$(Q)sh tests/system/chat.sh $(BUILD)
	@echo "== demo"
	$(Q)sh tests/system/demo.sh $(BUILD)
	@echo "== install into a staging tree, build against it with pkg-config"
	$(Q)MAKE="$(MAKE)" SANITIZE=$(SANITIZE) sh tests/system/install.sh $(BUILD) "$(SANFLAGS)"
ifneq ($(SANITIZE),1)
	@echo "== fuzz the frame decoder for $(FUZZ_TIME) s, the E2EE parsers for $(FUZZ_E2EE_TIME) s"
	$(Q)$(MAKE) --no-print-directory fuzz
endif
	@echo "== all checks passed"

_run: all
	$(Q)mkdir -p data
	LD_LIBRARY_PATH=$(BUILD) ./$(IRISD) -d --data-dir ./data

# The demo (tests/system/demo.sh, also run by make check): a private
# irisd in a temp dir, two users invited with irisctl, two iris-chat
# clients exchanging messages; prints what each saw, fails unless each
# received exactly what the other sent.
demo: all
	$(Q)sh tests/system/demo.sh $(BUILD)

# The store benchmark (not a test): fsync floor, one commit per append,
# group commit; prints a table and one JSON line.
bench-store: $(BUILD)/tests/bench/store_bench
	$(BUILD)/tests/bench/store_bench $(BENCH_ARGS)

# iris-bench against fresh irisds (each workload its own, in a temporary
# directory): `make bench` runs every workload at small scale (a few
# minutes) and prints the table, `make bench FULL=1` at full scale;
# BENCH_ARGS adds options (iris-bench -N: durability none, NOT durable).
# bench-conn and bench-msg run its connection and messaging workloads.
# The E2EE client-cost benchmark joins `make bench` once it exists.
BENCH_SCALE := $(if $(filter 1,$(FULL)),-F,)
RUN_IRIS_BENCH = d=$$(mktemp -d) && cd $$d && \
	    IRIS_BUILD=$(CURDIR)/$(BUILD) LD_LIBRARY_PATH=$(CURDIR)/$(BUILD) \
	    $(CURDIR)/$(IRIS_BENCH)
ifneq ($(wildcard tests/bench/e2ee_bench.c),)
BENCH_E2EE := bench-e2ee
endif

bench: $(IRIS_BENCH) all
	$(Q)$(RUN_IRIS_BENCH) $(BENCH_SCALE) $(BENCH_ARGS); \
	    rc=$$?; rm -rf $$d; exit $$rc
ifneq ($(BENCH_E2EE),)
	$(Q)$(MAKE) --no-print-directory $(BENCH_E2EE)
endif

bench-conn: $(IRIS_BENCH) all
	$(Q)$(RUN_IRIS_BENCH) $(BENCH_SCALE) -w idle,reconnect $(BENCH_ARGS); \
	    rc=$$?; rm -rf $$d; exit $$rc

bench-msg: $(IRIS_BENCH) all
	$(Q)$(RUN_IRIS_BENCH) $(BENCH_SCALE) -w durable,latency $(BENCH_ARGS); \
	    rc=$$?; rm -rf $$d; exit $$rc

# The client library end to end (engine and two clients in one process):
# messages/s, send->ack and send->delivery p50/p99, order checked.
bench-client: $(BUILD)/tests/bench/client_bench
	$(Q)d=$$(mktemp -d) && cd $$d && \
	    $(CURDIR)/$(BUILD)/tests/bench/client_bench $(BENCH_ARGS); \
	    rc=$$?; rm -rf $$d; exit $$rc

fuzz: $(FUZZ_BIN) $(FUZZ_E2EE_BIN)
	$(Q)sh tests/fuzz/run.sh $(FUZZ_BIN) $(FUZZ_TIME)
	$(Q)sh tests/fuzz/run.sh $(FUZZ_E2EE_BIN) $(FUZZ_E2EE_TIME) \
	    tests/fuzz/corpus_e2ee

# Regenerates the seed corpus from the sample frames of every body.
fuzz-corpus: $(LIB_A)
	$(Q)$(CC) $(LIB_CPPFLAGS) -Itests/unit $(ALL_CFLAGS) \
	    -Wno-missing-prototypes -o $(BUILD)/tests/mkcorpus \
	    tests/fuzz/mkcorpus.c tests/unit/samples.c $(LIB_A) $(LIB_LIBS)
	$(Q)rm -f tests/fuzz/corpus/*.bin
	$(Q)$(BUILD)/tests/mkcorpus tests/fuzz/corpus

# Regenerates the E2EE fuzzer's seeds (its fixed sessions' envelopes and
# state bytes: the same in every build, from deterministic randomness).
fuzz-corpus-e2ee: $(FUZZ_E2EE_SRCS)
	@mkdir -p $(BUILD)/tests tests/fuzz/corpus_e2ee
	$(Q)$(CC) $(LIB_CPPFLAGS) $(SODIUM_CFLAGS) -std=c11 \
	    -DFUZZ_E2EE_MKCORPUS -o $(BUILD)/tests/mkcorpus_e2ee \
	    $(FUZZ_E2EE_SRCS) $(SODIUM_LIBS)
	$(Q)rm -f tests/fuzz/corpus_e2ee/*.bin
	$(Q)$(BUILD)/tests/mkcorpus_e2ee tests/fuzz/corpus_e2ee

# E2EE costs on an existing session (encrypt + decrypt per message, state
# saved and loaded as the client does), session setup, envelope overhead.
bench-e2ee: $(BUILD)/tests/bench/e2ee_bench
	$(Q)$(BUILD)/tests/bench/e2ee_bench $(BENCH_ARGS)

proto:
	$(NANOPB_GEN) --error-on-unmatched -D proto -I proto proto/iris.proto

# ---------------------------------------------------------------------------
# Install

MANPAGES := $(sort $(wildcard man/*.[1-8]))

install: all
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(SBINDIR)
	$(INSTALL) -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libiris.so.$(ABI) $(DESTDIR)$(LIBDIR)/libiris.so
	$(INSTALL) -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	$(INSTALL) -m 0644 include/*.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    pkgconfig/libiris.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/libiris.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/libiris.pc
	$(INSTALL) -m 0755 $(IRISD) $(IRISCTL) $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -d $(DESTDIR)$(SYSCONFDIR)/iris $(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 0644 $(CONF_SAMPLE) $(DESTDIR)$(SYSCONFDIR)/iris/
	[ -e $(DESTDIR)$(SYSCONFDIR)/iris/iris.conf ] || \
	    $(INSTALL) -m 0644 $(CONF_SAMPLE) \
	    $(DESTDIR)$(SYSCONFDIR)/iris/iris.conf
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    server/irisd.service.in > $(DESTDIR)$(UNITDIR)/irisd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/irisd.service
	sh man/install.sh install $(DESTDIR)$(MANDIR) $(MANPAGES)
	@if [ -z "$(DESTDIR)" ] && command -v ldconfig >/dev/null 2>&1 && \
	    [ "$$(id -u)" = 0 ]; then echo ldconfig; ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libiris.so.$(ABI) \
	    $(DESTDIR)$(LIBDIR)/libiris.so $(DESTDIR)$(LIBDIR)/libiris.a \
	    $(DESTDIR)$(PKGCONFIGDIR)/libiris.pc \
	    $(DESTDIR)$(SBINDIR)/irisd $(DESTDIR)$(SBINDIR)/irisctl \
	    $(DESTDIR)$(SYSCONFDIR)/iris/iris.conf.sample \
	    $(DESTDIR)$(UNITDIR)/irisd.service
	@# iris.conf stays once the operator has changed it.
	if cmp -s $(CONF_SAMPLE) $(DESTDIR)$(SYSCONFDIR)/iris/iris.conf; then \
	    rm -f $(DESTDIR)$(SYSCONFDIR)/iris/iris.conf; fi
	for h in include/*.h; do rm -f $(DESTDIR)$(INCLUDEDIR)/$${h#include/}; done
	sh man/install.sh uninstall $(DESTDIR)$(MANDIR) $(MANPAGES)

clean:
	rm -rf build

.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
