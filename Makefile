# Salon Privacy Portal: `make run` (install what is missing, build, demo data, serve) and
# `make test` (every check and test). See README.md.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

CARGO_LEPTOS_VERSION := 0.3.4
WASM_BINDGEN_VERSION := 0.2.130
# Leptos reads this at compile time; without it plain cargo commands rebuild leptos.
export LEPTOS_OUTPUT_NAME := portal
# cargo-leptos builds debug with this flag; giving cargo test/clippy the same one lets them
# share one build of the dependency tree instead of compiling it twice.
DEBUG_RUSTFLAGS := --cfg erase_components
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
PORTAL := $(TARGET_DIR)/debug/portal
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

SOAK_TOOLS := nginx wrk postgresql

.PHONY: deploy-check soak soak-short soak-tools run build build-release tools tools-test test lint test-rust test-pg e2e e2e-release bench lighthouse lighthouse-run clean

## run: install missing tools, build, load the demo salon on first run, serve on 127.0.0.1:3000
## (mail goes to the dev mailbox, switched on by name, unless PORTAL_SMTP_URL is set)
DEV_MAILBOX = $(if $(PORTAL_SMTP_URL),,PORTAL_DEV_MAILBOX=1)
run: tools build
	@$(DEV_MAILBOX) LEPTOS_SITE_ROOT=target/site $(PORTAL) demo-data
	@echo "Portal: http://127.0.0.1:3000  (stop with Ctrl-C)"
	@$(DEV_MAILBOX) LEPTOS_SITE_ROOT=target/site exec $(PORTAL) serve

build:
	cargo leptos build

## build-release: what users deploy. Debian's wasm-opt 108 breaks hydration; npm's binaryen 132
## (end2end/node_modules) is first on PATH. --precompress writes brotli and gzip copies of the
## site's files, which the server sends to browsers that take them.
build-release: tools-test
	PATH="$(CURDIR)/end2end/node_modules/.bin:$$PATH" cargo leptos build --release --precompress

## deploy-check: the systemd unit and the nginx site of deploy/ verify (needs systemd and nginx)
deploy-check:
	./deploy/check.sh

## tools: the wasm target and the pinned cargo-leptos and wasm-bindgen CLI (installed once)
tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@cargo leptos --version 2>/dev/null | grep -q " $(CARGO_LEPTOS_VERSION)$$" || cargo install cargo-leptos --version $(CARGO_LEPTOS_VERSION) --locked
	@# Not --locked: the CLI's own lock file wants a crate version the registry index lacks.
	@wasm-bindgen --version 2>/dev/null | grep -q " $(WASM_BINDGEN_VERSION)$$" || cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

## tools-test: Chromium and Node from Debian's packages, Playwright from npm (never a downloaded browser)
tools-test: tools
	@command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	@command -v npm >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm)
	@[ -x end2end/node_modules/.bin/playwright ] || (cd end2end && npm ci --no-audit --no-fund)

## test: formatting, clippy (server and wasm), Rust tests on SQLite and PostgreSQL, Playwright
## on the debug build, then the release build, the smoke specs against it, and the short soak
## (two replicas behind nginx, with faults)
test: tools-test lint test-rust test-pg e2e e2e-release soak-short

lint:
	cargo fmt --all -- --check
	RUSTFLAGS="$(DEBUG_RUSTFLAGS)" cargo clippy --workspace --exclude portal-hydrate --all-targets -- -D warnings
	cargo clippy -p portal-hydrate --target wasm32-unknown-unknown -- -D warnings

# Tests run in parallel inside each binary. (They ran one at a time while several portals in
# one process could hang a page: leptos #4773, fixed at our end by generating the route list
# once per process, `server::page_routes`.) Each black-box test has a runtime of its own
# (`support::run`), so no test's busy moment starves another's background jobs. Binaries whose
# tests observe the whole process (timings, hashing permits, memory, the log subscriber) hold a
# lock or have a binary of their own. Extra libtest arguments go here (for example `-- --test-threads=1`).
TEST_ARGS :=

test-rust:
	env -u TEST_POSTGRES_URL RUSTFLAGS="$(DEBUG_RUSTFLAGS)" cargo test --workspace --exclude portal-hydrate $(TEST_ARGS)

## test-pg: the black-box tests again on PostgreSQL (TEST_POSTGRES_URL, or a local cluster);
## the same package set and features as test-rust, so the build is shared
test-pg:
	@url="$${TEST_POSTGRES_URL:-}"; \
	if [ -z "$$url" ] && [ "$$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null; then url=$$(.ci/postgres.sh); fi; \
	if [ -z "$$url" ]; then echo "PostgreSQL not available: set TEST_POSTGRES_URL to run the PostgreSQL pass"; exit 0; fi; \
	TEST_POSTGRES_URL="$$url" RUSTFLAGS="$(DEBUG_RUSTFLAGS)" cargo test --workspace --exclude portal-hydrate --tests $(TEST_ARGS)

# When a spec fails: the server's warnings and errors, and its last requests (serve.sh).
E2E_LOG = echo "--- server log (end2end/.data/*/server.log): warnings, errors, last 60 lines ---"; \
	grep -hE " (WARN|ERROR) " .data/*/server.log | tail -n 40; tail -n 60 .data/*/server.log

e2e: build
	cd end2end && CARGO_TARGET_DIR="$(TARGET_DIR)" npx playwright test || { $(E2E_LOG); exit 1; }

## e2e-release: the specs tagged @smoke against the release binary and its optimised site (a
## debug-only run once hid a production build that did not compile)
e2e-release: build-release
	cd end2end && CARGO_TARGET_DIR="$(TARGET_DIR)" PORTAL_E2E_PROFILE=release npx playwright test --grep @smoke || { $(E2E_LOG); exit 1; }

## bench: the cost of sealing on opening a full customer record, the export of a large customer,
## the consent API against 1,000,000 generated customers (bulk rate vs the database, p99), then
## one table of every HTTP route that matters against the ceiling (/livez), with memory, the wasm
## as sent and the last Lighthouse figures, on SQLite and on PostgreSQL when it is available
bench: build-release
	@# A page that misses a Lighthouse target is reported in the table, not a stop of the bench.
	$(MAKE) --no-print-directory lighthouse-run || true
	@command -v wrk >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	@# The same flag as the release site build (always-erase-components), so the benches reuse
	@# its release build of the tree instead of compiling it a second time.
	RUSTFLAGS="--cfg erase_components" cargo bench -p portal-core --bench sealed_record
	RUSTFLAGS="--cfg erase_components" cargo bench -p portal-core --bench export
	RUSTFLAGS="--cfg erase_components" cargo bench -p server --bench consent_api
	@url="$${BENCH_POSTGRES_URL:-$${TEST_POSTGRES_URL:-}}"; \
	if [ -z "$$url" ] && [ "$$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null; then url=$$(.ci/postgres.sh); fi; \
	BENCH_POSTGRES_URL="$$url" RUSTFLAGS="--cfg erase_components" cargo bench -p server --bench http

## soak: two release replicas on a PostgreSQL of its own behind nginx (deploy/nginx.conf), an
## SMTP server, wrk and virtual customers through the proxy for 60 s while a replica is killed
## (-9), PostgreSQL restarted and the SMTP server down 2 minutes; then checks from the database
## and the mail received that nothing was lost or done twice, prints one table, and fails if it was
soak: build-release soak-tools
	RUSTFLAGS="--cfg erase_components" cargo bench -p server --bench soak

## soak-short: the same checks with 20 s of load and a 10 s mail outage (part of `make test`)
soak-short: build-release soak-tools
	SOAK_SHORT=1 RUSTFLAGS="--cfg erase_components" cargo bench -p server --bench soak

soak-tools:
	@command -v nginx >/dev/null && command -v wrk >/dev/null && [ -d /usr/lib/postgresql ] || \
		($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SOAK_TOOLS))

## lighthouse: a phone's first visit to /, /privacy, /signin, /me, /me/requests and /me/consents
## (Lighthouse from npm, mobile defaults, Debian's Chromium) against the release build; fails
## when a page misses performance >= 95, LCP <= 2.5 s, TBT <= 200 ms or 300 KiB transferred
lighthouse: build-release lighthouse-run

lighthouse-run: tools-test
	@[ -d end2end/node_modules/lighthouse ] || (cd end2end && npm ci --no-audit --no-fund)
	cd end2end && CARGO_TARGET_DIR="$(TARGET_DIR)" node lighthouse.mjs

clean:
	cargo clean
	rm -rf target/site end2end/.data
