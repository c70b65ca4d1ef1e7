# fpx build. `make` builds build/libfpx.so, build/libfpx.a and build/fpx-tune;
# `make test` runs the CPU test suite (Criterion); `make asan` runs it under
# AddressSanitizer + UBSan; `make install PREFIX=...` installs; `make deps`
# installs missing Debian packages (run automatically when pkg-config cannot
# find them).

PREFIX ?= /usr/local
CUDA_HOME ?= /usr/local/cuda
CC ?= cc
BUILD ?= build

PKGS := sqlite3 libcjson criterion
DEB_PKGS := libsqlite3-dev libcjson-dev libcriterion-dev pkg-config

# Install missing build dependencies once, before anything else is built.
ifeq ($(filter deps clean help gpu-test bench tune-model,$(MAKECMDGOALS)),)
  ifneq ($(shell pkg-config --exists $(PKGS) 2>/dev/null && echo ok),ok)
    $(info fpx: installing missing build dependencies ($(DEB_PKGS)))
    DEPS_RESULT := $(shell $(MAKE) --no-print-directory deps >&2 && echo ok)
    ifneq ($(DEPS_RESULT),ok)
      $(error fpx: 'make deps' failed; install $(DEB_PKGS) by hand)
    endif
  endif
  ifeq ($(wildcard $(CUDA_HOME)/include/nvrtc.h),)
    $(error fpx: NVRTC not found: no $(CUDA_HOME)/include/nvrtc.h (set CUDA_HOME to the CUDA toolkit))
  endif
endif

CUDA_LIB := $(firstword $(wildcard $(CUDA_HOME)/lib64 $(CUDA_HOME)/lib))
WARN := -Wall -Wextra -Werror
BASE_CFLAGS := -std=c11 $(WARN) -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
  -Iinclude -Igen -Iruntime -Icache -Ituner -I$(BUILD)/generated \
  -I$(CUDA_HOME)/include $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
OPT ?= -O2 -g
CFLAGS ?=
ALL_CFLAGS := $(BASE_CFLAGS) $(OPT) $(CFLAGS)
LIB_CFLAGS := $(ALL_CFLAGS) -fPIC -fvisibility=hidden -DFPX_BUILDING_LIBRARY
LIBS := -L$(CUDA_LIB) -Wl,-rpath,$(CUDA_LIB) -lnvrtc \
  $(shell pkg-config --libs sqlite3 libcjson 2>/dev/null) -ldl -lpthread -lm

LIB_SRC := $(wildcard gen/*.c runtime/*.c cache/*.c)
TOOL_MAIN := tuner/fpx_tune.c
TUNER_SRC := $(filter-out $(TOOL_MAIN),$(wildcard tuner/*.c))
TEST_SRC := $(wildcard tests/test_*.c)
TEMPLATES := $(sort $(wildcard templates/*.cuh))
SHIPPED_DBS := $(sort $(wildcard cache/shipped/*.json))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/generated/templates_embedded.o \
  $(BUILD)/obj/generated/shipped_embedded.o
TOOL_OBJ := $(TOOL_MAIN:%.c=$(BUILD)/obj/%.o)
TUNER_OBJ := $(TUNER_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all test asan install deps clean help device-bundle device-kernels gpu-test bench tune-model
all: $(BUILD)/libfpx.so $(BUILD)/libfpx.a $(BUILD)/fpx-tune

help:
	@echo "targets: all test asan install deps clean device-bundle device-kernels gpu-test bench tune-model"

deps:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	 $$SUDO apt-get update -qq && \
	 DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_PKGS) >/dev/null

$(BUILD)/obj/%.o: %.c $(wildcard include/*.h gen/*.h runtime/*.h cache/*.h tuner/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

# Kernel templates and shipped tuning databases become NUL-terminated strings
# inside the library.
$(BUILD)/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@
$(BUILD)/generated/templates_embedded.c: $(BUILD)/embed $(TEMPLATES)
	@mkdir -p $(dir $@)
	$(BUILD)/embed $@ fpx__embedded_templates $(TEMPLATES)
$(BUILD)/generated/shipped_embedded.c: $(BUILD)/embed $(SHIPPED_DBS)
	@mkdir -p $(dir $@)
	$(BUILD)/embed $@ fpx__embedded_shipped $(SHIPPED_DBS)
$(BUILD)/obj/generated/%.o: $(BUILD)/generated/%.c
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(BUILD)/libfpx.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/libfpx.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libfpx.so.0 -o $@ $^ $(LIBS)
# The tuner (everything in tuner/ but main) is a static library of its own so
# that the CPU tests can link it too.
$(BUILD)/libfpx_tuner.a: $(TUNER_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/fpx-tune: $(TOOL_OBJ) $(BUILD)/libfpx_tuner.a $(BUILD)/libfpx.a
	$(CC) -o $@ $(TOOL_OBJ) $(BUILD)/libfpx_tuner.a $(BUILD)/libfpx.a $(LIBS)

$(BUILD)/test_fpx: $(TEST_OBJ) $(BUILD)/libfpx_tuner.a $(BUILD)/libfpx.a $(BUILD)/fpx-tune
	$(CC) -o $@ $(TEST_OBJ) $(BUILD)/libfpx_tuner.a $(BUILD)/libfpx.a $(LIBS) $(shell pkg-config --libs criterion)

GPU_TEST_SRC := $(wildcard tests/gpu/*.c)
GPU_TEST_OBJ := $(GPU_TEST_SRC:%.c=$(BUILD)/obj/%.o)
$(BUILD)/test_gpu: $(GPU_TEST_OBJ) $(BUILD)/libfpx.a
	$(CC) -o $@ $(GPU_TEST_OBJ) $(BUILD)/libfpx.a $(LIBS) $(shell pkg-config --libs criterion)

# Libraries the GPU machine lacks travel with the binaries; glibc, the CUDA
# toolkit's NVRTC and SQLite are there already.
BUNDLE ?= bundle
BUNDLE_SKIP := 'libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|ld-linux|libnvrtc|libsqlite3'
device-bundle: $(BUILD)/fpx-tune $(BUILD)/test_gpu
	rm -rf $(BUNDLE) && mkdir -p $(BUNDLE)/bin $(BUNDLE)/lib
	cp $(BUILD)/fpx-tune $(BUILD)/test_gpu $(BUNDLE)/bin/
	ldd $(BUILD)/fpx-tune $(BUILD)/test_gpu | awk '/=> \// {print $$3}' | sort -u | \
	  grep -Ev $(BUNDLE_SKIP) | xargs -r -I{} cp -L {} $(BUNDLE)/lib/
	cp tools/bundle-run.sh $(BUNDLE)/run && chmod +x $(BUNDLE)/run
	if [ -f $(KERNEL_DB) ]; then mkdir -p $(BUNDLE)/cache && cp $(KERNEL_DB) $(BUNDLE)/cache/fpx.db; fi
	@du -sh $(BUNDLE)

# The kernels of the shipped winners of one architecture, compiled here
# (NVRTC needs no GPU) into a database that device-bundle copies to
# bundle/cache/ when it exists, so that the GPU machine loads them instead
# of compiling each on first use. Kernels already in it are kept; run it
# again after a template changes (`rm $(KERNEL_DB)` drops the stale ones).
KERNEL_ARCH ?= sm_90a
KERNEL_DB ?= $(BUILD)/kernels-$(KERNEL_ARCH).db
device-kernels: $(BUILD)/fpx-tune
	$(BUILD)/fpx-tune compile --arch $(KERNEL_ARCH) --shipped --db $(KERNEL_DB)

gpu-test:
	@test -x $(BUNDLE)/run || { echo "no $(BUNDLE)/: run 'make device-bundle' on the build machine"; exit 2; }
	$(BUNDLE)/run test_gpu --jobs $${FPX_TEST_JOBS:-8} $(GPU_TEST_ARGS)

BENCH_ARGS ?= --model llama3-70b
bench:
	@test -x $(BUNDLE)/run || { echo "no $(BUNDLE)/: run 'make device-bundle' on the build machine"; exit 2; }
	$(BUNDLE)/run fpx-tune bench $(BENCH_ARGS)

# The main job: tune a model's shapes, then compare the tuned kernels with
# cuBLAS. Uses build/fpx-tune when built here, else the device bundle.
MODEL ?= llama3-8b
FORMATS ?= e3m2,e2m2,e2m1,e4m3
TUNE_M ?= 1,2,4,8,16,32,64,128,256,512,1024,2048,4096,8192
tune-model:
	@if [ -x $(BUNDLE)/run ] && [ ! -x $(BUILD)/fpx-tune ]; then tool="$(BUNDLE)/run fpx-tune"; \
	 else $(MAKE) --no-print-directory $(BUILD)/fpx-tune >/dev/null && tool=$(BUILD)/fpx-tune; fi; \
	 $$tool tune --model $(MODEL) --format $(FORMATS) --m $(TUNE_M) && \
	 $$tool bench --model $(MODEL) --format $(FORMATS) --m $(TUNE_M)

test: $(BUILD)/test_fpx
	FPX_TUNE=$(BUILD)/fpx-tune $(BUILD)/test_fpx --jobs 2

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS_EXTRA= CC="$(CC) -fsanitize=address,undefined" test

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/fpx.h $(DESTDIR)$(PREFIX)/include/fpx.h
	install -m 644 $(BUILD)/libfpx.a $(DESTDIR)$(PREFIX)/lib/libfpx.a
	install -m 755 $(BUILD)/libfpx.so $(DESTDIR)$(PREFIX)/lib/libfpx.so.0
	ln -sf libfpx.so.0 $(DESTDIR)$(PREFIX)/lib/libfpx.so
	install -m 755 $(BUILD)/fpx-tune $(DESTDIR)$(PREFIX)/bin/fpx-tune
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|0.1.0|g' -e 's|@CUDA_LIB@|$(CUDA_LIB)|g' \
	  tools/fpx.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/fpx.pc

clean:
	rm -rf build build-asan $(BUNDLE)
