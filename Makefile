# `make demo`: set up if needed, generate a synthetic image set, pretrain DetCo for 2 epochs.
# `make transfer-demo [DATA=PATH]`: `make demo` if needed, convert its checkpoint, fine-tune and
# evaluate a small Mask R-CNN on the CPU (generated images, or a COCO-layout set at PATH).
# `make test`: set up if needed (with the mmpretrain backend, whose tests it runs too), run the
# test suite in TEST_WORKERS processes (default 2), without the tests marked e2e.
# `make test-e2e`: the tests marked e2e, the ones that run whole command lines (mim train,
# torchrun, the benchmark tools, the installed wheel). CI runs both.
# `make lint`: ruff (pyflakes, pycodestyle, import order; pyproject.toml [tool.ruff]). CI runs it.
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DATA ?= data/detco_demo
DEMO_WORK_DIR ?= work_dirs/detco_demo
DEMO_CONFIG ?= configs/detco/detco_resnet18_1xb4-coslr-2e_tiny.py
# pytest-xdist workers of `make test` and `make test-e2e`: one per core of CI's 2-core machine
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal

.PHONY: setup demo transfer-demo test test-e2e lint

$(VENV)/.detco_setup_done: pyproject.toml requirements/constraints.txt tools/setup_env.sh
	DETCO_VENV=$(VENV) bash tools/setup_env.sh

$(VENV)/.detco_mmpretrain_done: pyproject.toml requirements/constraints.txt tools/setup_env.sh
	DETCO_VENV=$(VENV) DETCO_BACKENDS=mmselfsup,mmpretrain bash tools/setup_env.sh

setup: $(VENV)/.detco_setup_done

demo: setup
	$(PY) tools/data/make_synthetic_images.py --out $(DEMO_DATA) --num 32
	$(VENV)/bin/mim train mmselfsup $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR) \
		--cfg-options train_dataloader.dataset.data_root=$(DEMO_DATA)/
	@echo "checkpoints: $$(ls $(DEMO_WORK_DIR)/epoch_*.pth | tr '\n' ' ')"
	@echo "log:         $$(ls -t $(DEMO_WORK_DIR)/*/*.log | head -n 1)"
	@echo "scalars:     $$(ls -t $(DEMO_WORK_DIR)/*/vis_data/scalars.json | head -n 1)"
	@echo "plots:       $(PY) tools/analysis/plot_curves.py $(DEMO_WORK_DIR)  (or $(VENV)/bin/tensorboard --logdir $(DEMO_WORK_DIR))"

$(DEMO_WORK_DIR)/epoch_2.pth:
	$(MAKE) demo

transfer-demo: setup $(DEMO_WORK_DIR)/epoch_2.pth
	PATH=$(abspath $(VENV))/bin:$$PATH PRETRAIN=$(DEMO_WORK_DIR)/epoch_2.pth DEMO_DATA=$(DEMO_DATA) \
		bash tools/benchmarks/transfer_demo.sh $(if $(DATA),--data $(DATA))

test: $(VENV)/.detco_mmpretrain_done
	$(PYTEST) -m "not e2e"

test-e2e: $(VENV)/.detco_mmpretrain_done
	$(PYTEST) -m e2e

lint: setup
	$(VENV)/bin/ruff check .
