"""Build hook: compile softack's optional C normaliser (runtime/softack/_speedups.c).

softack runs the same algorithm in pure Python when this extension is absent, so a failed
compile (no C compiler, no Python headers) warns and the install goes on. Set
SOFTACK_NO_SPEEDUPS=1 to skip it on purpose. A wheel gets the compiled module and a platform tag;
an editable install (`make install`) gets it beside the sources, in runtime/softack/.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("runtime/softack/_speedups.c")


class SpeedupsBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        self._work: str | None = None
        if self.target_name != "wheel" or os.environ.get("SOFTACK_NO_SPEEDUPS"):
            return
        self._work = tempfile.mkdtemp(prefix="softack-build-")
        try:
            built = _compile(Path(self.root) / SOURCE, Path(self._work))
        except Exception as exc:  # any compiler failure: the pure-Python path does the same
            self.app.display_warning(
                f"softack: the C normaliser was not built ({type(exc).__name__}: {exc}); "
                "softack runs its pure-Python normaliser instead"
            )
            return
        if version == "editable":  # beside the sources, where the editable install imports from
            shutil.copyfile(built, Path(self.root) / SOURCE.parent / built.name)
        else:
            build_data["force_include"][str(built)] = f"softack/{built.name}"
            build_data["pure_python"] = False
            build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)


def _compile(source: Path, work: Path) -> Path:
    """Compile ``source`` as ``softack._speedups`` with setuptools' compiler setup; the module's path."""
    from setuptools import Distribution, Extension

    dist = Distribution(
        {"name": "softack", "ext_modules": [Extension("softack._speedups", [str(source)])]}
    )
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib = str(work / "lib")
    cmd.build_temp = str(work / "temp")
    cmd.ensure_finalized()
    cmd.run()
    return Path(cmd.get_ext_fullpath("softack._speedups"))
