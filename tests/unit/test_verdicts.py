"""What a match means: verdicts from bank policies, weak hashes, and videos' frame share."""

from takedown.matching import BankPolicy, Match, SignalType, Verdict, verdict_for, video_matches


def m(bank="b", policy=BankPolicy.block, signal=SignalType.pdq, entry=1, distance=0):
    return Match(bank, policy, signal, entry, distance)


def test_strongest_policy_wins():
    assert verdict_for([], pdq_quality=100) is Verdict.allow
    assert verdict_for([m(policy=BankPolicy.log)], pdq_quality=100) is Verdict.allow
    assert verdict_for([m(policy=BankPolicy.review)], pdq_quality=100) is Verdict.review
    assert (
        verdict_for(
            [m(policy=BankPolicy.review), m(policy=BankPolicy.block_and_report)], pdq_quality=100
        )
        is Verdict.block
    )


def test_weak_pdq_matches_only_ask_for_review_but_exact_hashes_still_block():
    assert verdict_for([m()], pdq_quality=49) is Verdict.review
    assert verdict_for([m()], pdq_quality=50) is Verdict.block
    assert verdict_for([m(signal=SignalType.md5)], pdq_quality=10) is Verdict.block


def test_a_video_matches_a_bank_when_half_its_frames_do():
    frames = [[m(entry=1, distance=4)], [m(entry=2, distance=9), m(entry=1, distance=2)], [], []]
    kept, per_bank = video_matches(frames)
    assert per_bank == {"b": 2}
    assert [(x.entry_id, x.distance) for x in kept] == [(1, 2), (2, 9)]
    kept, _ = video_matches([[m()], [], [], []])
    assert kept == []
    assert video_matches([]) == ([], {})
