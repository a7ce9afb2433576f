"""The library never imports the front-end toolkits (Harlequin-style contract)."""

import subprocess
import sys

FRONT_ENDS = ("typer", "textual", "rich", "click")


def test_library_imports_no_front_end():
    code = (
        "import sys, snasnet, exporters\n"
        "from snasnet import build_model, load_checkpoint, complexity, Architecture\n"
        "import snasnet.network.model, snasnet.network.checkpoint, snasnet.measure.complexity, snasnet.network.arch\n"
        "build_model('digits', '0302 0030 3003 0000')\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FRONT_ENDS!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_arch_module_needs_no_torch():
    code = "import sys, snasnet.network.arch; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_help_and_dir_show_the_public_api_without_importing_it():
    # issue 28: help(snasnet) listed only __getattr__; dir() must list the lazy names yet load no torch
    code = (
        "import sys, pydoc, snasnet, snasnet.train, snasnet.search\n"
        "print(sorted({'build_model', 'load_checkpoint', 'Architecture'} - set(dir(snasnet))))\n"
        "print(sorted({'fit', 'train_config'} - set(dir(snasnet.train))), 'run_search' in dir(snasnet.search))\n"
        "print('torch' in sys.modules)\n"
        "doc = pydoc.render_doc(snasnet, renderer=pydoc.plaintext)\n"
        "print(all(name in doc for name in ('build_model(', 'load_checkpoint(', 'class Architecture')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:4] == ["[]", "[] True", "False", "True"], out
