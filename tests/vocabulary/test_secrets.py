import pytest
from pydantic import BaseModel, ValidationError

from bridge.vocabulary.secrets import EnvStr, Secret, SecretList


class Options(BaseModel):
    model_config = {"arbitrary_types_allowed": True}
    key: Secret
    many: SecretList = []
    url: EnvStr = "https://default.example"


def load(data: dict[str, object], **environ: str) -> Options:
    return Options.model_validate(data, context={"environ": environ})


def test_secret_reference_reads_the_named_variable() -> None:
    options = load({"key": "${API_KEY}"}, API_KEY="sk_live_123")
    assert options.key.reveal() == "sk_live_123"
    assert options.key.env_var == "API_KEY"


def test_secret_never_prints_its_value() -> None:
    options = load({"key": "${API_KEY}"}, API_KEY="sk_live_123")
    assert "sk_live_123" not in repr(options)
    assert "sk_live_123" not in str(options.key)


def test_inline_secret_is_an_error_that_shows_the_reference_syntax() -> None:
    with pytest.raises(ValidationError) as raised:
        load({"key": "sk_live_123"})
    assert "like ${STRIPE_WEBHOOK_SECRET}, never inline" in str(raised.value)


def test_unset_secret_is_not_an_error_but_reports_itself() -> None:
    options = load({"key": "${API_KEY}"})
    assert not options.key.is_set
    assert options.key.reveal() is None


def test_comma_separated_whsec_values_serve_rotation() -> None:
    options = load({"key": "${S}"}, S="whsec_new, whsec_old")
    assert options.key.values() == ("whsec_new", "whsec_old")
    assert options.key.rotating


@pytest.mark.parametrize(
    "value",
    [
        "Tr0ub4dorSECRET,x9",  # a Pipedrive password
        "k,Q9]x2V;m&Wd,4p@-nT!ys0(8jGh*=E_bl|A^z?r~u%c>L<fK{Mo[}i.1",  # WooCommerce's kind
        "whsec_abc,plain",  # not every part is a whsec_ secret: one secret
        "whsec_only",
    ],
)
def test_any_other_secret_is_one_value_commas_included(value: str) -> None:
    options = load({"key": "${S}"}, S=value)
    assert options.key.values() == (value,)
    assert not options.key.rotating


def test_secret_list_accepts_one_reference_or_many() -> None:
    assert [s.env_var for s in load({"key": "${A}", "many": "${B}"}).many] == ["B"]
    assert [s.env_var for s in load({"key": "${A}", "many": ["${B}", "${C}"]}).many] == ["B", "C"]


def test_plain_settings_interpolate_with_defaults() -> None:
    assert (
        load({"key": "${K}", "url": "${BASE:-http://127.0.0.1:9}/x"}).url == "http://127.0.0.1:9/x"
    )
    assert load({"key": "${K}", "url": "${BASE:-x}"}, BASE="http://proxy").url == "http://proxy"


def test_plain_setting_with_unset_variable_and_no_default_is_an_error() -> None:
    with pytest.raises(ValidationError) as raised:
        load({"key": "${K}", "url": "${BASE}"})
    assert "BASE is not set and has no default (write ${BASE:-value})" in str(raised.value)
