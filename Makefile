# Shorthands for the commands in README.md; each target is one documented command.
PYTHON ?= python3

.PHONY: setup brokers test test-fast run smoke broker bench lint format typecheck check

setup:          ## install mosquitto, amqtt (.venv-amqtt) and mqttsec (editable, dev extras)
	bash scripts/setup.sh

brokers:        ## install aedes (npm, .brokers/), RabbitMQ, ActiveMQ, ejabberd (Debian); see docs/brokers.md
	bash scripts/install-brokers.sh

test:           ## every test CI runs: unit, broker, interop (mosquitto, amqtt), packaging
	$(PYTHON) -m pytest -n 2 --dist loadgroup

test-fast:      ## the quick inner loop: no slow or fuzz tests
	$(PYTHON) -m pytest -n 2 -m "not slow and not fuzz"

run:            ## the scenario catalogue against the reference broker; reports in mqttsec-report/
	$(PYTHON) -m mqttsec run --report-dir mqttsec-report

smoke:          ## smoke-check the reference broker with paho-mqtt; writes mqttsec-report/results.json
	$(PYTHON) -m mqttsec smoke --report-dir mqttsec-report

broker:         ## run the reference broker on 127.0.0.1:1883 until Ctrl-C
	$(PYTHON) -m mqttsec broker

bench:          ## throughput: reference broker vs mosquitto vs amqtt
	$(PYTHON) bench/throughput.py

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format:
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

typecheck:      ## mypy --strict over the installed layout (see scripts/typecheck.py)
	$(PYTHON) scripts/typecheck.py

check: lint typecheck test
