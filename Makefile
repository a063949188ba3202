# Fieldcase: the two commands of the README and the steps they are made of.
#
#   make run    install what is missing, build (release), open the desktop app on a demo vault
#   make test   install what is missing, run every test suite (what CI runs)
#   make package  build the installable packages (.deb, .rpm) of a release build
#
# Helper targets: deps, lint, core-test, fuzz, ui-test, ui, desktop, desktop-release, desktop-test, e2e, package-test, syncthing-test, demo-vault, clean-free.
# Every step is idempotent and cheap when there is nothing to do: system
# packages are installed only when dpkg says they are missing, npm ci runs only
# when package-lock.json is newer than node_modules, tauri-driver is installed
# only when absent, and cargo/vite rebuild only what changed.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

ROOT        := $(CURDIR)
TARGET      := $(ROOT)/target
TOOLS       := $(TARGET)/tools
SCREENS     := $(TARGET)/e2e-screens
CARGO       ?= cargo
NPM         ?= npm
# root installs directly; anyone else through sudo.
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Build and run the desktop app: Tauri 2 on WebKitGTK 4.1.
APT_BUILD   := build-essential pkg-config libssl-dev libgtk-3-dev libwebkit2gtk-4.1-dev \
               librsvg2-dev libayatana-appindicator3-dev
# Tests: a virtual display (x11-utils: xwininfo finds the installed app's
# window), WebDriver for WebKitGTK, screenshots, the stock age and sqlite3
# tools for the vault interop tests, and Syncthing for the sync folder
# carried by a real sync tool.
APT_TEST    := xvfb xauth x11-utils webkit2gtk-driver dbus-x11 imagemagick age sqlite3 syncthing
APT_PACKAGES := $(APT_BUILD) $(APT_TEST)

# tauri-driver: the one on PATH if there is one, else a project-local copy.
TAURI_DRIVER ?= $(or $(shell command -v tauri-driver 2>/dev/null),$(TOOLS)/bin/tauri-driver)

# cargo-fuzz (libFuzzer), project-local. It needs nightly-only rustc flags
# (-Zsanitizer, coverage instrumentation); the machine has only the stable
# toolchain, so RUSTC_BOOTSTRAP=1 unlocks them for the fuzz builds alone.
CARGO_FUZZ   := $(TOOLS)/bin/cargo-fuzz
FUZZ_TARGETS := bundle_archive event_json journal_frame
FUZZ_SECONDS ?= 20

# Cargo's output: CARGO_TARGET_DIR when set (parallel work uses its own), else target/.
CARGO_OUT   := $(or $(CARGO_TARGET_DIR),$(TARGET))
CLI_BIN     := $(CARGO_OUT)/debug/fieldcase
DESKTOP_BIN := $(CARGO_OUT)/debug/fieldcase-desktop
# What users run (make run, and the packaged app later): release builds.
CLI_RELEASE     := $(CARGO_OUT)/release/fieldcase
DESKTOP_RELEASE := $(CARGO_OUT)/release/fieldcase-desktop

# make run: a demo vault of synthetic cases, and its (deliberately public)
# demo passphrase, which the unlock screen shows.
DEMO_VAULT      := $(TARGET)/demo-vault
DEMO_PASSPHRASE := fieldcase demo only
DEMO_CASES      := 200

UI_SOURCES  := $(shell find ui/src -type f 2>/dev/null) ui/index.html ui/vite.config.ts ui/svelte.config.js ui/tsconfig.json

define header
	@printf '\n\033[1m==== %s ====\033[0m\n' "$(1)"
endef

.PHONY: help test run package deps lint apt-deps npm-deps core-test fuzz ui-test ui desktop desktop-release desktop-test e2e package-test syncthing-test demo-vault clean-free

help:
	@echo "make run    - install what is missing, build, open the app on a demo vault"
	@echo "make test   - install what is missing, run every test suite"
	@echo "make package - build the .deb and .rpm packages (release)"
	@echo "helpers: deps lint core-test fuzz ui-test ui desktop desktop-release desktop-test e2e package-test syncthing-test demo-vault clean-free"

# ---------------------------------------------------------------- test
test: deps lint core-test fuzz ui-test desktop desktop-test e2e package-test syncthing-test
	$(call header,make test: every suite passed)

# ---------------------------------------------------------------- deps
deps: apt-deps npm-deps $(TAURI_DRIVER)

apt-deps:
	$(call header,System packages)
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "all present"; else \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $$missing; \
	fi

npm-deps: ui/node_modules/.fieldcase-installed tests/e2e/node_modules/.fieldcase-installed

# npm ci wipes node_modules and installs exactly the lock file; the stamp is
# newer than the lock file afterwards, so the next run skips it.
%/node_modules/.fieldcase-installed: %/package-lock.json %/package.json
	$(call header,npm ci in $*)
	cd $* && $(NPM) ci --no-audit --no-fund
	touch $@

$(TOOLS)/bin/tauri-driver:
	$(call header,tauri-driver)
	$(CARGO) install tauri-driver --version '^2' --locked --root $(TOOLS)

# ---------------------------------------------------------------- lint
# Formatting as rustfmt.toml says, and clippy's default lints with warnings
# as errors on every crate: the library, the CLI (cli/), the bench
# (bench/), their tests, benches and examples, and the desktop crate (with
# the feature its builds use; its Tauri, GTK and WebKit are type-checked
# once more, which `make test` accepts so the shell is held to the same
# lints as the core; it needs the GTK headers and ui/dist, hence the
# prerequisites).
lint: ui apt-deps
	$(call header,Lint: cargo fmt --check and cargo clippy -D warnings)
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy
	$(CARGO) fmt --all --check
	$(CARGO) clippy -p fieldcase -p fieldcase-cli -p fieldcase-bench -p fieldcase-vfs -p fieldcase-alloc --all-targets -- -D warnings
	$(CARGO) clippy -p fieldcase-desktop --all-targets --features custom-protocol -- -D warnings

# ---------------------------------------------------------------- core
# The library's own tests, then the CLI's (they run the `fieldcase` binary)
# and the bench's. The library is tested alone first, so its tests build
# without the bench's test kit (feature testkit), as the desktop app does.
core-test:
	$(call header,Core library and CLI and bench: cargo test -p fieldcase -p fieldcase-vfs -p fieldcase-alloc; then -p fieldcase-cli -p fieldcase-bench)
	@# The core must build without Tauri, GTK or WebKit (ARCHITECTURE.md, `src-tauri/` and `ui/`).
	@tree="$$($(CARGO) tree -p fieldcase -e normal,build,dev --prefix none)"; \
	if grep -qE '^(tauri|gtk|webkit2gtk)[ -]' <<<"$$tree"; then \
	  echo "FAIL: the fieldcase package depends on Tauri/GTK/WebKit"; exit 1; fi
	$(CARGO) test -p fieldcase -p fieldcase-vfs -p fieldcase-alloc
	$(CARGO) test -p fieldcase-cli -p fieldcase-bench

# ---------------------------------------------------------------- fuzz
# Build the libFuzzer targets of fuzz/ (their own workspace and target dir)
# and run each for FUZZ_SECONDS from its checked-in seeds plus the corpus
# earlier runs grew (fuzz/corpus, not committed). A crash fails the step and
# libFuzzer leaves the input in fuzz/artifacts/<target>/.
$(CARGO_FUZZ):
	$(call header,cargo-fuzz)
	$(CARGO) install cargo-fuzz --version '^0.13' --locked --root $(TOOLS)

fuzz: apt-deps $(CARGO_FUZZ)
	$(call header,Fuzz: $(FUZZ_TARGETS) ($(FUZZ_SECONDS) s each))
	RUSTC_BOOTSTRAP=1 $(CARGO_FUZZ) build --fuzz-dir fuzz
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  RUSTC_BOOTSTRAP=1 $(CARGO_FUZZ) run --fuzz-dir fuzz $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1; \
	done

# ---------------------------------------------------------------- ui
ui-test: npm-deps
	$(call header,UI: type check and unit tests (svelte-check, vitest))
	cd ui && $(NPM) run --silent check
	cd ui && $(NPM) test --silent

ui: ui/dist/index.html

ui/dist/index.html: ui/node_modules/.fieldcase-installed $(UI_SOURCES)
	$(call header,UI: vite build)
	cd ui && $(NPM) run --silent build

# ---------------------------------------------------------------- desktop
# A debug build with the front end embedded (custom-protocol): the binary
# serves ui/dist itself and never talks to a dev server.
desktop: ui apt-deps
	$(call header,Desktop app and CLI: cargo build)
	$(CARGO) build -p fieldcase-desktop --features custom-protocol
	$(CARGO) build -p fieldcase-cli --bin fieldcase
	@# The fixture tests/e2e/sync-steps.mjs uses to play field work the CLI has no commands for.
	$(CARGO) build -p fieldcase --example e2e_sync_fixture

# What users run: release builds of the app (front end embedded) and the CLI.
# A release build has no web inspector: Tauri enables devtools only in debug
# builds or with its "devtools" feature, which nothing may turn on (checked
# here). custom-protocol means no dev server URL is ever loaded, and the
# vault ignores FIELDCASE_TEST_SCRYPT_LOG_N in release builds.
desktop-release: ui apt-deps
	$(call header,Desktop app and CLI: cargo build --release)
	@if $(CARGO) tree -p fieldcase-desktop --features custom-protocol -e features -i tauri --prefix none 2>/dev/null \
	    | grep -q '^tauri feature "devtools"'; then \
	  echo "FAIL: tauri's devtools feature is enabled; release builds must not have the web inspector"; exit 1; fi
	@if $(CARGO) tree -p fieldcase-desktop --features custom-protocol -e features,normal -i fieldcase --prefix none 2>/dev/null \
	    | grep -q '^fieldcase feature "demo"'; then \
	  echo "FAIL: the app's library has the demo generator (feature demo); it is for the CLI and tests only"; exit 1; fi
	$(CARGO) build --release -p fieldcase-desktop --features custom-protocol
	$(CARGO) build --release -p fieldcase-cli --bin fieldcase

# The desktop crate's own tests (its session state against real vaults).
# They also write the TypeScript bindings of its DTOs (ts-rs) into
# ui/src/lib/bindings; if that changes any file, the checked-in bindings were
# stale and the step fails (commit the regenerated files).
BINDINGS := ui/src/lib/bindings
desktop-test: ui apt-deps
	$(call header,Desktop crate: cargo test -p fieldcase-desktop)
	@mkdir -p $(BINDINGS)
	@before="$$(cd $(BINDINGS) && find . -type f | sort | xargs -r sha256sum)"; \
	$(CARGO) test -p fieldcase-desktop --features custom-protocol; \
	after="$$(cd $(BINDINGS) && find . -type f | sort | xargs -r sha256sum)"; \
	if [ "$$before" != "$$after" ]; then \
	  echo "FAIL: $(BINDINGS) was stale; the test run regenerated it:"; \
	  diff <(echo "$$before") <(echo "$$after") || true; exit 1; fi; \
	if [ -n "$$(git status --porcelain $(BINDINGS) 2>/dev/null)" ]; then \
	  echo "note: $(BINDINGS) differs from the last commit (commit it):"; git status --porcelain $(BINDINGS); fi

# ---------------------------------------------------------------- e2e
# WebDriver smoke test of the real window under a virtual X display.
e2e: desktop npm-deps $(TAURI_DRIVER)
	$(call header,End-to-end: WebDriver under Xvfb)
	rm -rf $(SCREENS) && mkdir -p $(SCREENS)
	timeout --kill-after=30 960 \
	  xvfb-run -a -s "-screen 0 1280x800x24" \
	  dbus-run-session -- \
	  env NO_AT_BRIDGE=1 GTK_USE_PORTAL=0 TAURI_DRIVER=$(TAURI_DRIVER) FIELDCASE_DESKTOP_BIN=$(DESKTOP_BIN) FIELDCASE_CLI_BIN=$(CLI_BIN) \
	      E2E_SCREENS=$(SCREENS) node tests/e2e/run.mjs

# ---------------------------------------------------------------- package
# Installable packages made by Tauri's bundler from binaries already built:
# the app with its desktop entry and icon, and the CLI as /usr/bin/fieldcase.
# src-tauri/tauri.package.json turns bundling on; the CLI's path, which
# depends on the build profile and the target directory, is merged in from
# a file written here. The version is the workspace's (Cargo.toml).
# Tauri's CLI from ui/node_modules (npm-deps), run from src-tauri/ (where it
# finds tauri.conf.json).
TAURI_CLI := $(ROOT)/ui/node_modules/.bin/tauri
define package_files
	@printf '{"bundle":{"linux":{"deb":{"files":{"/usr/bin/fieldcase":"%s"}},"rpm":{"files":{"/usr/bin/fieldcase":"%s"}}}}}\n' \
	  "$(2)" "$(2)" > $(CARGO_OUT)/package-files-$(1).json
endef

package: desktop-release npm-deps
	$(call header,Packages: .deb and .rpm of the release build)
	$(call package_files,release,$(CLI_RELEASE))
	cd src-tauri && $(TAURI_CLI) bundle --ci --bundles deb,rpm \
	  --config $(ROOT)/src-tauri/tauri.package.json --config $(CARGO_OUT)/package-files-release.json
	@ls -1 $(CARGO_OUT)/release/bundle/deb/*.deb $(CARGO_OUT)/release/bundle/rpm/*.rpm

# The package test installs a .deb with apt-get, starts the installed app
# under Xvfb (screenshot in target/e2e-screens), runs the installed CLI and
# removes the package. It packages the debug build `make desktop` made for
# the end-to-end run: the same bundler and layout as `make package`, without
# a second, release, build of everything in CI.
package-test: desktop npm-deps
	$(call header,Package: install the .deb and start the installed app)
	$(call package_files,debug,$(CLI_BIN))
	rm -rf $(CARGO_OUT)/debug/bundle/deb
	cd src-tauri && $(TAURI_CLI) bundle --ci --debug --bundles deb \
	  --config $(ROOT)/src-tauri/tauri.package.json --config $(CARGO_OUT)/package-files-debug.json
	tests/package/run.sh $$(ls $(CARGO_OUT)/debug/bundle/deb/*.deb | head -1) $(SCREENS)

# ---------------------------------------------------------------- syncthing
# Two real Syncthing instances on the loopback (discovery, relays, NAT
# traversal, usage and crash reporting, upgrades off) carry the sync folder
# between an office and two laptops, each running `fieldcase sync --watch`
# (cli/tests/syncthing.rs). Each step is bounded (120 s); the whole run too.
syncthing-test: apt-deps
	$(call header,Sync folder through Syncthing)
	timeout --kill-after=30 600 $(CARGO) test -p fieldcase-cli --test syncthing -- --ignored --nocapture

# ---------------------------------------------------------------- run
run: apt-deps desktop-release demo-vault
	$(call header,Opening Fieldcase (release build) on $(DEMO_VAULT))
	@if [ -z "$${DISPLAY:-}" ] && [ -z "$${WAYLAND_DISPLAY:-}" ]; then \
	  echo "No display (DISPLAY/WAYLAND_DISPLAY unset): run make run in a desktop session."; \
	  echo "(On a headless machine, xvfb-run -a make run starts it on a virtual display.)"; exit 2; fi
	@echo "Demo passphrase: $(DEMO_PASSPHRASE)"
	FIELDCASE_VAULT=$(DEMO_VAULT) FIELDCASE_DEMO_PASSPHRASE='$(DEMO_PASSPHRASE)' $(DESKTOP_RELEASE)

# The demo vault is made once a day, by the release CLI (the full scrypt
# work factor, like a real vault), with its activity ending that day; the
# dated .complete stamp beside it marks a finished fill, so a vault left
# half-made by an interrupted run, or made on an earlier day, is made again.
DEMO_STAMP := $(DEMO_VAULT).$(shell date -u +%F).complete
demo-vault: $(DEMO_STAMP)

$(DEMO_STAMP): | desktop-release
	$(call header,Demo vault ($(DEMO_CASES) synthetic cases))
	rm -rf $(DEMO_VAULT) $(DEMO_VAULT).*complete
	FIELDCASE_PASSPHRASE='$(DEMO_PASSPHRASE)' $(CLI_RELEASE) --vault $(DEMO_VAULT) init --name "Demo supervisor" --role supervisor
	FIELDCASE_PASSPHRASE='$(DEMO_PASSPHRASE)' $(CLI_RELEASE) --vault $(DEMO_VAULT) demo --cases $(DEMO_CASES)
	touch $@

# ---------------------------------------------------------------- clean
# Removes what the Makefile generated, but never the shared cargo target
# directory's build cache (other work builds there).
clean-free:
	rm -rf $(SCREENS) $(DEMO_VAULT) $(DEMO_VAULT).*complete ui/dist ui/node_modules tests/e2e/node_modules
