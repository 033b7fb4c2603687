# SPDX-License-Identifier: ISC
# Build knobs for the Iris Makefile. Everything here can be overridden on the
# command line or from the environment: make PREFIX=/usr CC=clang ...

# Install locations (DESTDIR is prefixed to every one of them).
PREFIX		?= /usr/local
EXEC_PREFIX	?= $(PREFIX)
BINDIR		?= $(EXEC_PREFIX)/bin
SBINDIR		?= $(EXEC_PREFIX)/sbin
LIBDIR		?= $(EXEC_PREFIX)/lib
INCLUDEDIR	?= $(PREFIX)/include
DATAROOTDIR	?= $(PREFIX)/share
MANDIR		?= $(DATAROOTDIR)/man
SYSCONFDIR	?= $(PREFIX)/etc
PKGCONFIGDIR	?= $(LIBDIR)/pkgconfig
LOCALSTATEDIR	?= /var
UNITDIR		?= $(PREFIX)/lib/systemd/system

# Toolchain. User CFLAGS/CPPFLAGS/LDFLAGS are kept and added after ours.
CC		?= cc
CXX		?= c++
AR		?= ar
CFLAGS		?= -O2 -g
PKG_CONFIG	?= pkg-config
INSTALL		?= install

# make SANITIZE=1: ASan + UBSan build in its own directory.
SANITIZE	?= 0
# make WERROR=1: warnings are errors (CI sets it).
WERROR		?= 0
# make V=1: show the commands.
V		?= 0

# Fuzzing (tests/fuzz): clang with libFuzzer.
FUZZ_CC		?= clang
FUZZ_TIME	?= 20
FUZZ_E2EE_TIME	?= 10

# Debian 12 ships the nanopb generator with its own interpreter line; run it
# by path so that another python3 on PATH (without protobuf) is not used.
NANOPB_GEN	?= /usr/bin/nanopb_generator.py
