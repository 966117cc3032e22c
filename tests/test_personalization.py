"""Personalization signals come from the text itself."""

from __future__ import annotations

from tiesignal.features.personalization import note_features


def test_mentions_are_found_in_the_text_case_insensitively():
    out = note_features(
        ["Hi ava, your SQL and dbt work at Cobalt Labs stands out.", None, "   "],
        ["Ava", "Ben", "Cy"],
        ["Cobalt Labs", "Acme", "Zephyr"],
        [["SQL", "dbt", "Spark"], ["Go"], None],
    )
    assert out["note_mentions_name"].tolist() == [True, False, False]
    assert out["note_mentions_company"].tolist() == [True, False, False]
    assert out["note_skill_mentions"].tolist() == [2, 0, 0]
    assert out["note_length"].tolist() == [56, 0, 0]
    assert out["note_template_id"].isna().tolist() == [False, True, True]


def test_mail_merge_gets_one_template_id_and_different_text_another():
    out = note_features(
        ["Hi Ava, let's connect!", "Hi Ben, let's connect!", "Hi Ben, great to meet you."],
        ["Ava", "Ben", "Ben"],
        ["Acme", "Zephyr", "Zephyr"],
        [[], [], []],
    )
    ids = out["note_template_id"].tolist()
    assert ids[0] == ids[1] != ids[2]
