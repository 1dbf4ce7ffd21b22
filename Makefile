# votemap_site: `make run` serves the site, `make test` runs the whole suite.
# Both set everything up first (virtualenv, npm packages, front-end build,
# .env, migrations with the initial data, static files).

PORT ?= 8000
HOST ?= 127.0.0.1
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run run-workers cluster test test-frontend setup build lock messages mutate bench-map bench-chat bench-game bench-edge bench-cluster clean

# uvicorn with the site's flags (votemap_site/serve.py says which and why).
run: setup
	$(PY) -m votemap_site.serve --host $(HOST) --port $(PORT)

# Several worker processes: needs DATABASE_URL (PostgreSQL) and REDIS_URL or
# MESSAGE_QUEUE_URL set (environment or .env); browsers use WebSocket only.
# Their metrics go to a fresh folder (PROMETHEUS_MULTIPROC_DIR) that /metrics
# adds up. See docs/deployment.md.
run-workers: setup
	@test -n "$$REDIS_URL$$MESSAGE_QUEUE_URL$$(grep -E '^(REDIS|MESSAGE_QUEUE)_URL=.+' .env)" || { echo "set REDIS_URL or MESSAGE_QUEUE_URL (and DATABASE_URL) for several workers"; exit 1; }
	PROMETHEUS_MULTIPROC_DIR=$$(mktemp -d -t votemap-metrics.XXXXXX) SOCKETIO_TRANSPORTS=websocket $(PY) -m votemap_site.serve --host $(HOST) --port $(PORT) --workers $(or $(WORKERS),4)

# WORKERS processes (default 2) on ports PORT+1... behind nginx on HOST:PORT,
# with the site file deploy/nginx/votemap.conf; same settings as run-workers,
# plus nginx (apt-get install nginx). Ctrl-C stops everything it started.
# TLS_CERT=cert.pem TLS_KEY=key.pem: https on PORT, and HTTP_PORT (default
# 8080) redirecting to it.
HTTP_PORT ?= 8080
cluster: $(VENV)/.installed .env
	@$(PY) scripts/cluster.py check
	@$(MAKE) --no-print-directory setup
	$(PY) scripts/cluster.py run --workers $(or $(WORKERS),2) --host $(HOST) --port $(PORT) \
		$(if $(TLS_CERT),--tls-certificate $(TLS_CERT) --tls-certificate-key $(TLS_KEY) --http-port $(HTTP_PORT))

# The whole suite (docs/testing.md); it includes the front end's node --test
# files, which `make test-frontend` runs alone.
test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-frontend: node_modules/.installed
	npm test

setup: $(VENV)/.installed node_modules/.installed .env build
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0

$(VENV)/.installed: requirements.lock
	@test -x $(PY) || "$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to build the front end: install Node.js 18+ (apt install nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.env:
	@scripts/make-env "$$(scripts/find-python)"

build: node_modules/.installed
	npm run --silent build

# Regenerate requirements.lock after editing requirements.txt.
lock: $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip freeze --exclude pip > requirements.lock

# Mutation testing of the pure and core modules with cosmic-ray (not part of
# `make test`): installs requirements-mutate.txt into the virtualenv, writes
# mutation-report/summary.md and one report per module. MODULES=votemath,origins
# picks some; MUTATE_MAX=40 mutates at most 40 mutants per module. See docs/testing.md.
MODULES ?=
comma := ,
MUTATE_MAX ?=
mutate: $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-mutate.txt
	MUTATE_MAX=$(MUTATE_MAX) $(PY) scripts/mutate $(subst $(comma), ,$(MODULES))

# Extract and compile translations (needs GNU gettext).
messages: $(VENV)/.installed
	$(PY) manage.py makemessages -l es --ignore=node_modules --ignore=.venv --ignore=staticfiles
	$(PY) manage.py makemessages -d djangojs -l es --ignore=node_modules --ignore=.venv --ignore=staticfiles --ignore=votemap_site/static
	$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules

# Benchmarks (not part of the tests; they print figures and write results
# files and charts). Each pins the server to CPU 0 and the generator to CPU 1.
# See bench/<app>/README or RESULTS.md for what they measure; docs/benchmarks.md
# for the figures.
bench-map: setup
	$(PY) -m pip install --quiet -r bench/dashboard/requirements.txt
	$(PY) bench/dashboard/run.py
	$(PY) bench/dashboard/chart.py

bench-chat: setup
	$(PY) bench/chat/run.py --servers site,bare,bare-fast --rates 150,200,300,400 --duration 12 --repeat 2
	$(PY) bench/chat/chart.py --results bench/chat/results.json --summary bench/chat/summary/chat-200.json
	$(PY) bench/chat/trending_cost.py --json bench/chat/trending_cost.json

bench-game: setup
	$(PY) bench/grid_game/run.py --server site --arenas 50 --players 8 --label make
	$(PY) bench/grid_game/run.py --server bare --arenas 50 --players 8 --label make
	$(PY) bench/grid_game/run.py --server site --arenas 1 --players 256 --sample-every 4 --label make
	$(PY) bench/grid_game/run.py --server bare --arenas 1 --players 256 --sample-every 4 --label make
	$(PY) bench/grid_game/report.py --label make
	node bench/grid_game/chart.mjs make docs/img/bench-game.png
	$(PY) -m bench.grid_game.tick_cost --players 8 64 256 --ticks 1000

# The site against another checkout (BASE=<path>, e.g. a worktree of the
# previous main), side by side in the same runs; then the attacks
# (docs/benchmarks.md, "Cost of the edge").
BASE ?=
bench-edge: setup
	@test -n "$(BASE)" || { echo "BASE=<another checkout of the project> is needed"; exit 1; }
	rm -f bench/grid_game/results-edge.json
	$(PY) bench/dashboard/run.py --kinds site,site-base --base-root $(BASE) --rates "1000:2000,3000" --repeat 2 --no-memory --name edge-map
	$(PY) bench/chat/run.py --servers site,site-base --base-root $(BASE) --rates 200,300,400 --duration 12 --repeat 2 --out bench/chat/results-edge.json
	$(PY) bench/grid_game/run.py --server site,site-base --base-root $(BASE) --arenas 50 --players 8 --repeat 2 --label edge --results bench/grid_game/results-edge.json
	$(PY) bench/grid_game/run.py --server site,site-base --base-root $(BASE) --arenas 1 --players 256 --sample-every 4 --repeat 2 --label edge --results bench/grid_game/results-edge.json
	$(PY) bench/compare.py --map bench/dashboard/results/edge-map.json --chat bench/chat/results-edge.json --game bench/grid_game/results-edge.json
	taskset -c 1 $(PY) -m bench.edge_cost --base-root $(BASE)
	$(PY) bench/hostile.py

# The map and the game in cluster mode (2 workers on PostgreSQL + Redis, and +
# RabbitMQ) beside the embedded mode, interleaved, 2 repeats, on service
# instances of the run's own (PostgreSQL, Redis and RabbitMQ's server binaries
# must be installed); then the chart and the capacity model
# (docs/benchmarks.md, "Cluster mode and capacity").
bench-cluster: setup
	$(PY) bench/cluster/run.py
	$(PY) bench/cluster/chart.py
	$(PY) bench/cluster/capacity.py

clean:
	rm -rf $(VENV) node_modules staticfiles votemap_site/static/build
