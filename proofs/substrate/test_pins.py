"""S-12: the live inventory equals the pins for the database's migration head."""

import pytest

from iu_prove import pins


@pytest.mark.claim("S-12")
@pytest.mark.readonly
def test_the_inventory_matches_the_pins_for_this_head(db, evidence, iu_target):
    """Tables, views, functions, triggers and healthcheck surfaces equal the pinned inventory of the head."""
    live = pins.inventory(db)
    want = pins.pinned(iu_target.head)
    evidence.record("head", iu_target.head)
    evidence.record("counts", pins.counts(live))
    evidence.expect(
        "difference from the pins",
        have=pins.diff(want, live),
        want=[],
        note="`make pins` prints the live inventory; bump fixtures/pins.toml in the same change",
    )
    if "035" in pins.load():
        evidence.record("counts at 035 (pinned)", pins.counts(pins.pinned("035")))
