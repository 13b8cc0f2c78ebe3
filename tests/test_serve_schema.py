"""Schemathesis drives the service from its own OpenAPI schema: no request gets a 5xx, every
answer matches the documented status codes, media types and bodies, any JSON the schema
admits is answered with predictions and any it does not is refused with a 4xx.

It found three faults by itself: a 405 without its Allow header, a JSON schema looser
than the pixels really accepted, and true/false taken for pixels 1/0.
"""

import pytest
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")

from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402

from shallowvision.models import get_model  # noqa: E402
from shallowvision.persistence import save_model  # noqa: E402
from shallowvision.serve import create_app  # noqa: E402


@pytest.fixture(scope="module")
def app(digits, tmp_path_factory):
    data = digits.subsample(n_per_class=20, random_state=0)
    model = get_model("nb").fit(data.X, data.labels)
    path = save_model(
        model,
        tmp_path_factory.mktemp("schema") / "nb.skops",
        class_names=data.class_names,
        image_shape=data.image_shape,
    )
    return create_app(path, max_batch=4, max_bytes=20_000)


def test_the_service_honours_its_schema(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert sorted(o.label for o in operations) == ["GET /health", "GET /model", "POST /predict"]
    # Only a body can be made invalid: the GET endpoints take no input at all.
    cases = [
        (o, m) for o in operations for m in GenerationMode if o.method == "post" or m == "positive"
    ]
    for operation, mode in cases:

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=40,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            # Random bytes fit "format: binary" but are no image: refusing them (415) is right.
            binary = case.media_type not in (None, "application/json")
            case.call_and_validate(excluded_checks=[positive_data_acceptance] if binary else [])

        check()
