"""Guards against a llama.cpp build that runs only on the CPU it was compiled on.

A wheel compiled with GGML_NATIVE (-march=native) on a CPU with AVX-512 or AMX dies with SIGILL on a CPU without
them, and pip's wheel cache hands such a wheel to later installs. scripts/install_llamacpp.sh builds for any AVX2
CPU; these tests fail if what is installed is anything else, whatever CPU runs them.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

llama_cpp = pytest.importorskip("llama_cpp", reason="llama.cpp is the `llamacpp` extra; `make test` installs it")

#: Instructions no AVX2-only CPU has: AVX-512 (zmm and mask registers) and AMX (tile instructions).
NON_PORTABLE = re.compile(r"%zmm\d+|%k[1-7]\b|\btileloadd|\btdpb[su]{2}d|\btdpbf16ps|\bldtilecfg|\btilerelease")


def shared_libraries() -> list[Path]:
    package = Path(llama_cpp.__file__).parent
    libs = sorted({p.resolve() for p in package.rglob("*.so*") if p.is_file()})  # each file once, not per symlink
    assert libs, f"no shared libraries under {package}"
    return libs


@pytest.mark.parametrize(
    ("line", "portable"),
    [
        ("vfmadd231ps %ymm2,%ymm1,%ymm0", True),
        ("vpdpbusd %zmm2,%zmm1,%zmm0", False),
        ("kmovw %k1,%eax", False),
        ("tileloadd (%rsi,%rdx,1),%tmm0", False),
        ("tdpbusd %tmm2,%tmm1,%tmm0", False),
    ],
)
def test_the_scan_tells_avx512_and_amx_from_avx2(line: str, portable: bool) -> None:
    assert (NON_PORTABLE.search(line) is None) == portable


def test_compiled_cpu_features_are_the_portable_baseline() -> None:
    info = llama_cpp.llama_print_system_info().decode()
    enabled = {name for name, value in re.findall(r"(\w+) = (\d+)", info) if value == "1"}
    assert "AVX2" in enabled, info
    native_only = sorted(f for f in enabled if f.startswith(("AVX512", "AMX", "AVX_VNNI")))
    assert not native_only, f"llama.cpp was built with {native_only}: rebuild with scripts/install_llamacpp.sh"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) is not installed")
def test_no_avx512_or_amx_instructions_in_the_libraries() -> None:
    for lib in shared_libraries():
        proc = subprocess.Popen(["objdump", "-d", "--no-show-raw-insn", str(lib)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        hits = []
        for line in proc.stdout:
            if NON_PORTABLE.search(line):
                hits.append(line.strip())
                if len(hits) >= 5:
                    break
        proc.stdout.close()
        proc.kill()
        proc.wait()
        assert not hits, f"{lib.name} holds AVX-512/AMX code, e.g. {hits}: rebuild with scripts/install_llamacpp.sh"
