"""Tiny RANDOMLY INITIALISED picture models for tests, built from configs and saved in the
layouts the real loaders read (no weights can be downloaded here, and none ship on PyPI).

They exercise the same code paths as real weights (open_clip's ``local-dir`` loader, the
transformers image-to-text loader); what they output is noise, so tests check plumbing,
storage, fusion, resumption and messages, never quality.
"""

from __future__ import annotations

import json
from pathlib import Path

# A small open_clip CLIP: a one-layer ViT on 32 px images and a one-layer text tower.
TINY_CLIP_CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16,
                   "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2,
                 "layers": 1},
}

CAPTION_WORDS = ("a man woman street car bicycle bird boat ship sea meadow rabbit tree sky "
                 "cartoon sailor robot tower city night film black white old giant house").split()


def tiny_random_clip(folder: Path, seed: int = 0) -> Path:
    """Save a tiny random open_clip model as ``open_clip_config.json`` +
    ``open_clip_model.safetensors`` in ``folder`` (what ``DEERIN_CLIP_MODEL=folder`` loads)."""
    import open_clip
    import safetensors.torch
    import torch

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    model = open_clip.CLIP(**TINY_CLIP_CONFIG)
    safetensors.torch.save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        str(folder / "open_clip_model.safetensors"))
    (folder / "open_clip_config.json").write_text(json.dumps({
        "model_cfg": TINY_CLIP_CONFIG,
        "preprocess_cfg": {"mean": [0.48, 0.46, 0.41], "std": [0.27, 0.26, 0.28]},
    }))
    return folder


def tiny_random_captioner(folder: Path, seed: int = 0) -> Path:
    """Save a tiny random ``VisionEncoderDecoderModel`` (ViT encoder, GPT-2 decoder), a
    word-level tokenizer built offline with ``tokenizers`` and a ViT image processor in
    ``folder`` (what ``DEERIN_CAPTION_MODEL=folder`` loads)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        GPT2Config,
        PreTrainedTokenizerFast,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[BOS]", "[EOS]", "[UNK]"]
    vocab = {w: i for i, w in enumerate([*specials, *CAPTION_WORDS])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]",
                                        bos_token="[BOS]", eos_token="[EOS]",
                                        unk_token="[UNK]")
    tokenizer.save_pretrained(str(folder))
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(str(folder))
    encoder = ViTConfig(image_size=32, patch_size=16, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64)
    decoder = GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=32, n_layer=1,
                         n_head=2, add_cross_attention=True, is_decoder=True,
                         bos_token_id=vocab["[BOS]"], eos_token_id=vocab["[EOS]"],
                         pad_token_id=vocab["[PAD]"])
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = vocab["[BOS]"]
    config.pad_token_id = vocab["[PAD]"]
    config.eos_token_id = vocab["[EOS]"]
    model = VisionEncoderDecoderModel(config=config)
    model.save_pretrained(str(folder))
    return folder
