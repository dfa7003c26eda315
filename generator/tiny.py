"""Tiny diffusers video pipelines built entirely in-process (tokenizer included): no hub access.

Their weights are random: they exercise the real pipeline code (text encoder, transformer,
scheduler, VAE decode) in seconds on a CPU, for tests and the demo. They are smoke-test models.
"""

from __future__ import annotations

from typing import Any

WORDS = (
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "at",
    "with",
    "and",
    "red",
    "green",
    "blue",
    "white",
    "black",
    "fox",
    "cat",
    "dog",
    "bird",
    "horse",
    "person",
    "man",
    "woman",
    "child",
    "car",
    "boat",
    "city",
    "street",
    "forest",
    "river",
    "sea",
    "sky",
    "snow",
    "rain",
    "sun",
    "night",
    "day",
    "running",
    "walking",
    "flying",
    "through",
    "over",
    "under",
    "fresh",
    "old",
    "new",
    "small",
    "big",
    "slow",
    "fast",
    "camera",
    "shot",
    "video",
)


def tokenizer() -> Any:
    """A word-level T5-style tokenizer built from an in-memory vocabulary."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    vocab.update({w: i + 3 for i, w in enumerate(WORDS)})
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.normalizer = normalizers.Lowercase()
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tk, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def _t5(umt5: bool = False) -> Any:
    from transformers import T5Config, T5EncoderModel, UMT5EncoderModel

    cfg = T5Config(
        vocab_size=len(WORDS) + 3,
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
    )
    return (UMT5EncoderModel if umt5 else T5EncoderModel)(cfg).eval()


def tiny_wan(seed: int = 0) -> Any:
    """A tiny random :class:`diffusers.WanPipeline`."""
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanPipeline,
        WanTransformer3DModel,
    )

    torch.manual_seed(seed)
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    return WanPipeline(
        tokenizer=tokenizer(),
        text_encoder=_t5(umt5=True),
        vae=vae,
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
    )


def tiny_ltx(seed: int = 0) -> Any:
    """A tiny random :class:`diffusers.LTXPipeline`."""
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(seed)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=32,
    )
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    return LTXPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=_t5(),
        tokenizer=tokenizer(),
        transformer=transformer,
    )


def tiny_cogvideox(seed: int = 0) -> Any:
    """A tiny random :class:`diffusers.CogVideoXPipeline`."""
    import torch
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
        DDIMScheduler,
    )

    torch.manual_seed(seed)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4,
        attention_head_dim=8,
        in_channels=4,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=1,
        sample_width=2,
        sample_height=2,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=16,
    )
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    return CogVideoXPipeline(
        tokenizer=tokenizer(),
        text_encoder=_t5(),
        vae=vae,
        transformer=transformer,
        scheduler=DDIMScheduler(),
    )
