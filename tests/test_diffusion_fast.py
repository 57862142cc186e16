"""Batched and fast decoding of the mel codecs: batch == one by one, bf16/fp16 autocast close to fp32,
torch.compile equal to eager, CUDA-graph mode refused on the CPU with the fix."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from codecbench.codecs.diffusion.codec import reverse_diffusion  # noqa: E402
from codecbench.codecs.diffusion.fast import Compiled, accelerate  # noqa: E402
from codecbench.codecs.gan_mel import GanMelCodec  # noqa: E402
from codecbench.codecs.mel2mel import Mel2MelCodec  # noqa: E402
from codecbench.codecs.spec import parse_spec  # noqa: E402
from tiny_mel import write_tiny_checkpoints  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(write_tiny_checkpoints(tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="module")
def clips(short_selection):
    from codecbench.audio import load_audio

    return [load_audio(u.path, 16000).samples[:32000] for u in short_selection.utterances[:2]]


def snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((reference - other) ** 2)))


def test_batch_coding_equals_one_by_one(tiny, clips):
    codec = GanMelCodec(1.5, weights=tiny)  # deterministic decoder: batch and single decodes must agree
    batch = codec.encode_batch(clips)
    single = [codec.encode(c) for c in clips]
    assert [e.packets for e in batch] == [e.packets for e in single]
    decoded = codec.decode_batch(batch)
    for e, d in zip(single, decoded):
        np.testing.assert_allclose(d, codec.decode(e), atol=1e-5)
        assert len(d) == len(clips[0])
    mixed = codec.decode_batch([batch[0], codec.encode(clips[1][:16000])])  # unequal lengths: one by one
    assert [len(d) for d in mixed] == [32000, 16000]


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_reduced_precision_decodes_close_to_fp32(tiny, clips, dtype):
    eager = Mel2MelCodec(1.5, steps=3, sampler="ddim", weights=tiny)
    fast = Mel2MelCodec(1.5, steps=3, sampler="ddim", weights=tiny, dtype=dtype)
    encoded = eager.encode(clips[0])
    reference, decoded = eager.decode(encoded), fast.decode(encoded)
    assert np.all(np.isfinite(decoded)) and snr_db(reference, decoded) > 20
    assert fast.provenance()["dtype"] == dtype


def test_compiled_sampler_loop_equals_eager(tiny):
    backbone = Mel2MelCodec(1.5, weights=tiny).model.backbone
    sampler = Mel2MelCodec(1.5, sampler="ddim", weights=tiny).model.sampler
    cond = torch.randn(1, 80, 40, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        eager = reverse_diffusion(backbone, sampler, cond, cond.shape, 2, torch.Generator().manual_seed(2))
        compiled = reverse_diffusion(Compiled(backbone), sampler, cond, cond.shape, 2, torch.Generator().manual_seed(2))
    torch.testing.assert_close(compiled, eager, atol=1e-4, rtol=1e-4)


def test_fast_path_options_are_validated(tiny, clips):
    with pytest.raises(ValueError, match="select one of"):
        Mel2MelCodec.from_spec(parse_spec(f"mel2mel:compile=fast,weights={tiny}"))
    codec = Mel2MelCodec.from_spec(parse_spec(f"mel2mel:compile=graph,steps=2,weights={tiny}"))
    with pytest.raises(ValueError, match="CUDA device; on the CPU use compile=compile"):
        codec.decode(codec.encode(clips[0]))
    with pytest.raises(ValueError, match="mode must be one of"):
        accelerate(codec.model, "turbo")
