# The README's commands. Each one installs what is missing, configures and
# builds before it does its own work, so it runs on a fresh clone.
#   make run            build and run the latest day on all cores (127.0.0.1:8080)
#   make run DAY=01     run another day; ARGS="--workers 2" passes flags
#   make test           build and run every day's tests
#   make sanitize-test  the same under AddressSanitizer and UBSan
#   make bench          the benchmarks in bench/

DAYS   := $(sort $(wildcard day[0-9][0-9]))
DAY    ?= $(patsubst day%,%,$(lastword $(DAYS)))
ARGS   ?=
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: deps build run test sanitize-build sanitize-test bench clean

deps:
	@scripts/install-deps

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

run: build
	@test -x build/day$(DAY)/band-day$(DAY) || { echo "make run: no day '$(DAY)'; the days are: $(patsubst day%,%,$(DAYS))" >&2; exit 2; }
	exec build/day$(DAY)/band-day$(DAY) $(ARGS)

test: build
	ctest --preset release -j $(JOBS)

sanitize-build: deps
	@cmake --preset sanitize >/dev/null
	@cmake --build --preset sanitize -j $(JOBS)

sanitize-test: sanitize-build
	ctest --preset sanitize -j $(JOBS)

bench: build
	bench/run

clean:
	rm -rf build build-debug build-sanitize
