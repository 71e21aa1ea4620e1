# Stria: `make up` starts a whole file system on this machine and mounts it;
# `make test` installs what it needs and runs everything CI runs.

GO       ?= go
BIN      := bin
GOFLAGS  ?=
export GOFLAGS

.PHONY: all build deps test check vet test-unit test-rdma test-gomaxprocs1 bench bench-locks bench-go up down clean

all: build

# Debian packages (fuse3, rdma-core headers for -tags rdma); harmless to repeat.
deps:
	@test/scripts/deps.sh

# The daemons and the client are named as installed (stria-*); mount(8)
# finds the client as mount.stria.
DAEMONS  := mgs mds oss client

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/lfs ./cmd/lctl
	@for d in $(DAEMONS); do echo "$(GO) build -o $(BIN)/stria-$$d ./cmd/$$d"; \
		$(GO) build -o $(BIN)/stria-$$d ./cmd/$$d || exit 1; done
	ln -sf stria-client $(BIN)/mount.stria

# Static checks: formatting, vet (with and without the rdma tag), and the
# pure-Go build that nodes without rdma-core use.
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags rdma ./...
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) build -tags rdma ./...

test-unit:
	$(GO) test -race -count=1 -timeout 15m ./...

# o2iblnd's tests once more in the cgo build against libibverbs (the
# real-device cases skip, naming test/rdma/run.sh).
test-rdma:
	$(GO) test -tags rdma -count=1 -timeout 5m ./lnet/o2iblnd/... ./test/rdma/

# One more run of the network layer with a single P flushes out ordering
# assumptions that only hold with parallelism (STYLE.md item 20).
test-gomaxprocs1:
	GOMAXPROCS=1 $(GO) test -count=1 -timeout 10m ./lnet/... ./ptlrpc/...

test: deps check test-unit test-rdma test-gomaxprocs1

# The file-system benchmark (needs root): ../shared/bench/fsbench.sh on the
# make up mount, on a FUSE loopback whose data goes through its daemon, and
# on the local disk, in alternation for ROUNDS rounds (default 3); prints the
# medians, the ratios and the goals; then the lock and cache figures of
# issue 4 (bench-locks below) on the same mounts. See test/scripts/bench.sh.
BENCH_DIR ?= $(CURDIR)/../shared/bench
ROUNDS    ?= 3
bench:
	@test -f "$(BENCH_DIR)/fsbench.sh" || { echo "make bench: $(BENCH_DIR)/fsbench.sh is missing: the suite lives in ../shared/bench beside this checkout (BENCH_DIR= names another place)" >&2; exit 1; }
	@BENCH_DIR="$(BENCH_DIR)" ROUNDS="$(ROUNDS)" MNT="$(MNT)" test/scripts/bench.sh

# The figures of issue 4 alone (make bench runs them after the suite): a
# cached 1 GiB re-read against the fuseloop loopback, RPCs per cached stat,
# ior-hard from two client mounts, mdtest-easy-stat; prints the goals. See
# test/scripts/bench-locks.sh. Needs root.
bench-locks:
	@test -d "$(BENCH_DIR)/mdbench" || { echo "make bench-locks: $(BENCH_DIR)/mdbench is missing: the suite lives in ../shared/bench beside this checkout (BENCH_DIR= names another place)" >&2; exit 1; }
	@BENCH_DIR="$(BENCH_DIR)" ROUNDS="$(ROUNDS)" MNT="$(MNT)" test/scripts/bench-locks.sh

# The Go micro-benchmarks of the network and RPC layers.
bench-go:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./lnet/... ./ptlrpc/...

# A whole file system on this machine, mounted at mnt/ (MNT= overrides);
# see test/scripts/up.sh. Needs root.
up: build
	@MNT="$(MNT)" test/scripts/up.sh

down:
	@MNT="$(MNT)" test/scripts/down.sh

clean:
	rm -rf $(BIN)
