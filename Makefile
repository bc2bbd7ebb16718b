# vigil: the two commands a newcomer needs.
#   make demo   set up (idempotent) and run the demo
#   make test   set up (idempotent), then format check, clippy and the whole test suite
# CI runs `make test` (see .ci/run).

ORT_DYLIB_PATH ?= $(CURDIR)/.deps/onnxruntime/libonnxruntime.so.1.32.0
export ORT_DYLIB_PATH

.PHONY: setup demo test build

setup:
	scripts/setup

build: setup
	cargo build --release

demo: setup
	cargo run --release -- demo

test: setup
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo test --all-targets
