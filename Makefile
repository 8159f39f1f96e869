# Gatehouse developer targets. See docs/performance.md for the benchmarks.

GO ?= go

# Flags for cmd/gatehouse-bench, e.g. make bench BENCH_FLAGS='-quick' or
# BENCH_FLAGS='-db postgres -json bench.json'.
BENCH_FLAGS ?=
# Go benchmarks: which ones, in which packages, how long each.
BENCH ?= .
BENCH_PKGS ?= ./token/ ./oauth/ ./server/ ./storage/... ./bearer/
BENCHTIME ?= 1s

.PHONY: test bench bench-go

test:
	$(GO) test ./...

# Gatehouse against the bare floorserver handler under oauthload: one table of figures,
# ratios and targets (about 6 minutes; BENCH_FLAGS=-quick for a 1-minute smoke test).
bench:
	$(GO) run ./cmd/gatehouse-bench $(BENCH_FLAGS)

# The Go benchmarks of the hot paths, with allocation counts.
bench-go:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) $(BENCH_PKGS)
