"""The Jupyter project's own kernel test suite (``jupyter_kernel_test`` 0.7.0) against the
installed ``amphi`` kernelspec, every sample attribute filled."""

from __future__ import annotations

import pytest

jupyter_kernel_test = pytest.importorskip("jupyter_kernel_test")


@pytest.mark.timeout(180)
class AmphiKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "amphi"
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('oops', file=sys.stderr)"
    completion_samples = [
        {"text": "zi", "matches": {"zip"}},
        {"text": "import sys; sys.stdo", "matches": {"stdout"}},
    ]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n    return x\n", "%time 1 + 1"]
    incomplete_code_samples = ["print('''hello", "def f(x):", "for i in range(3):", "x = [1,"]
    invalid_code_samples = ["1 +* 2", "x = )", "def f(:\n"]
    code_page_something = "print?"
    code_generate_error = "raise ValueError('amphi')"
    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": "'a' * 3", "result": "'aaa'"},
        {"code": "[1, 2]", "result": "[1, 2]"},
    ]
    code_display_data = [
        {"code": "display({'text/html': '<b>x</b>'}, raw=True)", "mime": "text/html"},
        {"code": "from IPython.display import Markdown, display\ndisplay(Markdown('**b**'))", "mime": "text/markdown"},
    ]
    code_history_pattern = "1 + ?"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "print"
    code_clear_output = "from IPython.display import clear_output\nprint('x')\nclear_output()"
