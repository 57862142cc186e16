import pytest

from codecbench.codecs import CodecSpec, parse_spec, parse_spec_list


def test_parse_name_point_options():
    spec = parse_spec("mel2mel@1.5:steps=8,sampler=ddim")
    assert spec == CodecSpec("mel2mel", "1.5", {"steps": "8", "sampler": "ddim"})
    assert str(spec) == "mel2mel@1.5:sampler=ddim,steps=8"


def test_point_is_normalised_and_name_lowercased():
    assert str(parse_spec("Opus@6.0")) == "opus@6"
    assert str(parse_spec("lowpass@3.50k")) == "lowpass@3.5k"
    assert parse_spec("reference").point is None


@pytest.mark.parametrize("bad", ["", "opus@", "opus@6:steps", "opus@6:=3", "op us", "opus@6:a=1,a=2"])
def test_bad_specs_raise(bad):
    with pytest.raises(ValueError):
        parse_spec(bad)


def test_list_keeps_options_attached():
    specs = parse_spec_list(["opus@6,ladiffcodec@1.5:sampler=midway,tau=100,gamma=0.3,codec2@2.4", "lyra@3.2"])
    assert [str(s) for s in specs] == [
        "opus@6", "ladiffcodec@1.5:gamma=0.3,sampler=midway,tau=100", "codec2@2.4", "lyra@3.2"]
