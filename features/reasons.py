"""The reason taxonomy: why independent reviewers uphold a utilization-review denial, in words an office can act on.

This module is the one home of the taxonomy (:data:`REASONS`) and of the rules that assign it to a reviewer's
rationale (:func:`mine_reasons`). Rationales are written by the reviewer, so mined reasons are training signal,
evaluation targets and explanations, never model input: a model learns to predict them from the pre-submission
view, and ``features.checklist`` checks the request for the documentation each reason says was missing.

The codes were derived by reading the decision rationales of the DWC determination letters. How well the rules
agree with a person is measured on a hand-checked sample (``tests/fixtures/reasons_handcheck.csv``, item ids and
codes only) by :func:`evaluate_against_handcheck`.

Rules work sentence by sentence. Most reasons are stated as a *missing* element ("there is no documentation of
functional improvement"), while the same words without a negation are guideline boilerplate that every rationale
quotes ("additional sessions may be indicated with documentation of functional improvement"): so most patterns
require a negation cue in front of the topic, within the same sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

#: Reason code -> the reason in words an office understands. Order is the order reasons are shown in.
REASONS: Final[dict[str, str]] = {
    "quantity_unspecified": "The request does not state the number, frequency or duration of sessions/units "
    "(or, for a medication, the quantity or dose)",
    "body_part_unspecified": "The request does not state the body part or side to be treated",
    "no_functional_improvement": "No documented functional improvement from prior treatment",
    "exceeds_guideline_visits": "Exceeds the guideline's number of visits",
    "medication_efficacy_not_documented": "No documented efficacy or monitoring of the medication "
    "(pain relief, function, side effects, UDS)",
    "no_red_flags_imaging": "No red flags, objective neurologic findings or failed conservative care to justify "
    "imaging",
    "conservative_care_not_tried": "No documented trial and failure of conservative or first-line treatment",
    "no_surgical_indication": "No documented surgical indication or plan (the patient is not shown to be a "
    "surgical candidate)",
    "not_recommended_by_guideline": "The guideline does not recommend this treatment (or one of its components) "
    "for this condition",
    "long_term_use_not_supported": "Long-term or continued use beyond what the guideline supports",
    "duplicate_or_already_done": "Duplicates a service already authorized or recently done",
    "associated_with_denied_procedure": "Depends on a surgery or procedure that was not certified",
    "criteria_not_met": "Guideline criteria not met",
    "insufficient_information": "Insufficient clinical information / documentation",
}

REASON_CODES: Final[tuple[str, ...]] = tuple(REASONS)


@dataclass(frozen=True)
class _Rule:
    """One pattern for one code; ``only_if`` / ``unless`` look at the whole sentence the pattern matched in.

    ``topic``, when set, is a cheap pre-check: the topic words must occur before the (costlier) negation-gap-topic
    pattern runs, which keeps a sentence full of negations and no topic from costing time.
    """

    code: str
    pattern: re.Pattern[str]
    only_if: re.Pattern[str] | None = None
    unless: re.Pattern[str] | None = None
    topic: re.Pattern[str] | None = None

    def applies(self, sentence: str) -> bool:
        if self.topic is not None and not self.topic.search(sentence):
            return False
        if not self.pattern.search(sentence):
            return False
        if self.only_if is not None and not self.only_if.search(sentence):
            return False
        return not (self.unless is not None and self.unless.search(sentence))


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# A reviewer states a missing element with one of these in front of it. Kept as a fragment so each rule reads as
# "negation ... topic".
_NEG: Final = (
    r"(?:\bno\b|\bnot\b|\bnor\b|\bneither\b|\bwithout\b|\black(?:s|ed|ing)?\b|\babsen(?:ce|t)\b|\bfail(?:s|ed)?\s+to\b|"
    r"\bfailure\s+to\b|\bunclear\b|\binsufficient\b|\bnone\b|\byet\s+to\b|\bsilent\b)"
)


def _after_negation(
    code: str,
    gap: str,
    topic: str,
    only_if: re.Pattern[str] | None = None,
    unless: re.Pattern[str] | None = None,
) -> _Rule:
    """A rule that fires when ``topic`` follows a negation cue within ``gap`` in the same sentence."""
    return _Rule(code, _rx(_NEG + gap + topic), only_if=only_if, unless=unless, topic=_rx(topic))


# "Up to 60 characters inside the sentence, not crossing a guideline's own recommendation": stops a negation in a
# quoted guideline ("NCS is not recommended, but EMG is ... after 1-month conservative therapy") reaching a topic.
_GAP: Final = r"(?:(?!recommend)[^.;]){0,60}?"
_GAP_LONG: Final = r"(?:(?!recommend)[^.;]){0,100}?"

# Words that place a sentence about efficacy in the medication context rather than the therapy context.
_MEDICATION_CONTEXT: Final = _rx(
    r"\b(?:medications?|medicines?|drugs?|regimen|prescri\w*|nsaids?|anti-?inflammator\w*|opioids?|opiates?|"
    r"narcotics?|tablets?|capsules?|doses?|dosage|muscle relaxants?|analgesics?|antidepressants?|anticonvulsants?|"
    r"benzodiazepines?|norco|tramadol|percocet|oxycodone|hydrocodone|cyclobenzaprine|orphenadrine|baclofen|"
    r"naproxen|ibuprofen|motrin|celecoxib|gabapentin|pregabalin|duloxetine|omeprazole|pantoprazole|lidocaine|"
    r"tizanidine|diclofenac|meloxicam)\b"
)
# Guideline boilerplate that otherwise reads like a finding.
_GUIDELINE_BOILERPLATE: Final = _rx(
    r"\b(?:when treatment duration|should be noted|in most instances|guidelines? (?:state|note|indicate|recommend)s?\b"
    r"|(?:is|are) recommended (?:for|when|if|as|only)|may be (?:indicated|appropriate|extended))"
)

_RULES: Final[tuple[_Rule, ...]] = (
    # quantity_unspecified: the request itself leaves number, frequency, duration, quantity or dose open. Excludes
    # sentences about *prior* sessions ("unclear how many sessions she has had"), which are missing history.
    _Rule(
        "quantity_unspecified",
        _rx(
            r"\b(?:did|does|do|has|have)\s+not\s+(?:specif\w*|state\w*|indicate\w*|include\w*|provide\w*|identif\w*|"
            r"mention\w*|note\w*|list\w*)\b(?:[^.;]){0,60}?\b(?:quantity|number of|amount|frequency|duration|dosage|"
            r"dose|how many|length of)"
        ),
        unless=_rx(r"\b(?:completed|prior|previous(?:ly)?|to date|attended|received|had had|has had|undergone)\b"),
    ),
    _Rule(
        "quantity_unspecified",
        _rx(
            r"\bfail(?:s|ed)?\s+to\s+(?:specify|state|provide|indicate|include|identify)\b(?:[^.;]){0,40}?"
            r"\b(?:quantity|number|amount|frequency|duration|dosage|dose|sessions|visits)"
        ),
        unless=_rx(r"\b(?:completed|prior|previous(?:ly)?|to date|attended|received|had had|has had|undergone)\b"),
    ),
    _Rule(
        "quantity_unspecified",
        _rx(
            r"\b(?:quantity|number of (?:sessions|visits|treatments)|frequency|duration(?: of (?:use|treatment))?|"
            r"dosage|amount)\b(?:[^.;]){0,40}?\b(?:(?:was|were|is|are|has|have|had)\s+not\s+(?:been\s+)?"
            r"(?:specified|stated|provided|indicated|noted|given|included|listed|identified)|(?:un|not\s)specified)"
        ),
        unless=_rx(r"\b(?:completed|prior|previous(?:ly)?|to date|attended|received|had had|has had|undergone)\b"),
    ),
    _Rule(
        "quantity_unspecified",
        _rx(
            r"\b(?:unspecified|unknown|unstated|undetermined|open[- ]ended|indefinite)\s+(?:quantity|number|amount|"
            r"frequency|duration|dosage|sessions|visits|treatments)\b"
        ),
        unless=_rx(r"\b(?:completed|prior|previous(?:ly)?|to date|attended|received|had had|has had|undergone)\b"),
    ),
    # body_part_unspecified: the request names no body part, location or side.
    _Rule(
        "body_part_unspecified",
        _rx(
            r"\b(?:did|does|do)\s+not\s+(?:specify|state|indicate|identify|include|mention)\b(?:[^.;]){0,40}?"
            r"\b(?:body part|body region|location|site|side|laterality|which (?:body|side|extremit\w*|joint))"
        ),
    ),
    _Rule(
        "body_part_unspecified",
        _rx(
            r"\bfail(?:s|ed)?\s+to\s+(?:specify|state|indicate|identify)\b(?:[^.;]){0,30}?\b(?:body part|location|"
            r"site|side|laterality)"
        ),
    ),
    _Rule(
        "body_part_unspecified",
        _rx(
            r"\b(?:unclear|not clear|not specified)\b(?:[^.;]){0,30}?\b(?:what|which)\s+(?:body part|side|area|"
            r"location|extremit\w*|joint|region)"
        ),
    ),
    _Rule("body_part_unspecified", _rx(r"\b(?:unspecified|unknown)\s+(?:body part|body region|location|side)\b")),
    # no_functional_improvement: prior *therapy* without documented functional gains or results. The same finding
    # about a medication is medication_efficacy_not_documented (routed by the medication context below).
    _after_negation(
        "no_functional_improvement",
        _GAP,
        (
            r"\b(?:objective(?:ly)?\s+|significant\s+|measurable\s+|quantifiable\s+|sustained\s+)?functional\s+"
            r"(?:improvement|gains?|benefit|response|progress|restoration|objective measures)"
        ),
        unless=_rx(_MEDICATION_CONTEXT.pattern + "|" + _GUIDELINE_BOILERPLATE.pattern + r"|\bprogram of functional\b"),
    ),
    _after_negation(
        "no_functional_improvement",
        _GAP,
        (
            r"\b(?:(?:results?|outcomes?|response|efficacy|benefit|progress|improvement|decrease in pain|increase in "
            r"function)\b(?:[^.;]){0,100}?\b(?:prior|previous|initial|past|completed|previously|earlier)\b(?:[^.;]){0,40}?"
            r"\b(?:sessions?|visits?|treatments?|therapy|course|trial|usage|use|care)\b|response to (?:the\s+)?"
            r"(?:prior\s+|previous\s+)?(?:therapy|treatment|sessions|care)\b)"
        ),
        unless=_rx(_MEDICATION_CONTEXT.pattern + "|" + _GUIDELINE_BOILERPLATE.pattern),
    ),
    _Rule(
        "no_functional_improvement",
        _rx(
            r"\b(?:results?|outcomes?|response)\s+(?:of|from|to)\s+(?:the\s+)?(?:initial|prior|previous)\b"
            r"(?:[^.;]){0,60}?\b(?:not|unknown|un(?:documented|clear))\b|\b(?:until|after) the results (?:of|from) the "
            r"initial\b|\bcontingent (?:up)?on (?:the\s+)?(?:patient's\s+)?response\b|\bfunctional improvement\b"
            r"(?:[^.;]){0,80}?\b(?:was|were|is|has|have)\s+not\s+(?:been\s+)?(?:indicated|documented|noted|provided|"
            r"demonstrated|shown)\b"
        ),
        unless=_rx(_MEDICATION_CONTEXT.pattern + "|" + _GUIDELINE_BOILERPLATE.pattern),
    ),
    _Rule(
        "no_functional_improvement",
        _rx(
            r"\b(?:were|was)\s+not\s+(?:beneficial|helpful|effective)|\bwithout\s+(?:any\s+)?(?:documented\s+|"
            r"objective\s+|significant\s+)?(?:improvement|benefit)\b|\bno\s+(?:documented\s+|objective\s+|"
            r"significant\s+|noted\s+)?(?:improvement|benefit)\s+(?:with|from|after|following)\b"
        ),
        unless=_rx(_MEDICATION_CONTEXT.pattern + r"|\bif (?:there is )?no improvement\b"),
    ),
    # exceeds_guideline_visits: the number requested (alone or with prior sessions) is beyond the guideline.
    _Rule(
        "exceeds_guideline_visits",
        _rx(
            r"\b(?:exceed(?:s|ed|ing)?|in excess of|excessive|surpass\w*|beyond|more than)\b(?:[^.;]){0,80}?"
            r"\b(?:guidelines?|recommend\w*|initial trial|mtus|odg|acoem|maximum|limit|allowed|visits|sessions|"
            r"treatments)\b"
        ),
        unless=_rx(
            r"\bwhen treatment duration\b|\bshould be noted\b|\b(?:medications?|opioids?|drugs?|tablets?|"
            r"long[- ]term|weeks of use|treatment period)\b|\bonly by\b|\bsilent\b"
        ),
    ),
    _Rule(
        "exceeds_guideline_visits",
        _rx(
            r"\b(?:sessions|visits|treatments|therapy)\b(?:[^.;]){0,60}?\bwould (?:exceed|be in excess of)\b|"
            r"\bwhich the patient would exceed\b|\bexcess physical therapy\b|\bfull (?:course|complement) of\b|"
            r"\b(?:sessions|visits|treatments)\s+(?:are|is|would be)\s+excessive\b"
        ),
    ),
    # medication_efficacy_not_documented: continued medication without documented pain relief, function, side
    # effects or monitoring (urine drug screens, CURES).
    _after_negation(
        "medication_efficacy_not_documented",
        _GAP_LONG,
        (
            r"\b(?:pain relief|relief of pain|reduction in (?:pain|symptoms)|decrease in pain|pain (?:scores?|levels?)|"
            r"vas|efficacy|effectiveness|benefit\w*|improvement|improved function|increased function|"
            r"functional (?:improvement|gains?|benefit))\b"
        ),
        only_if=_MEDICATION_CONTEXT,
        unless=_rx(r"\bbeyond\b|\bfirst[- ]line\b|\bfail\w*|" + _GUIDELINE_BOILERPLATE.pattern),
    ),
    _after_negation(
        "medication_efficacy_not_documented",
        _GAP_LONG,
        (
            r"\b(?:urine drug (?:screen|test)\w*|uds|cures|aberrant|side effects?|adverse effects?|"
            r"pain (?:contract|agreement)|monitoring|compliance)\b"
        ),
        only_if=_MEDICATION_CONTEXT,
        unless=_rx(
            r"\b(?:multiple|high risk|additional|repeat|frequent\w*|baseline|require)\b|"
            + _GUIDELINE_BOILERPLATE.pattern
        ),
    ),
    _Rule(
        "medication_efficacy_not_documented",
        _rx(r"\bcures\b(?:[^.;]){0,40}?\bnot\s+(?:been\s+)?(?:checked|reviewed|documented|consulted)\b"),
    ),
    _Rule(
        "medication_efficacy_not_documented",
        _rx(r"\b(?:no|not)\b(?:[^.;]){0,30}?\bbenefiting from (?:the\s+)?(?:treatment|medication)"),
    ),
    # no_red_flags_imaging: no red flags, neurologic deficits, nerve compromise or objective findings to justify a
    # diagnostic study (imaging, electrodiagnostics) or an injection for radiculopathy.
    _after_negation(
        "no_red_flags_imaging",
        _GAP_LONG,
        (
            r"\b(?:red[- ]flags?|(?:specific|significant|focal|objective)?\s*neurolog\w*\s+(?:deficits?|dysfunction|"
            r"abnormalit\w*|findings|compromise|signs|symptoms)|nerve\s+(?:root\s+)?(?:compromise|impairment|"
            r"dysfunction|entrapment)|tissue insult|focal deficits?|(?:significant\s+)?objective findings|"
            r"physical (?:exam(?:ination)?\s+)?findings|findings (?:indicative|suggestive|consistent) of|"
            r"radiculopathy|radicular (?:pain|symptoms|findings)|myelopathy|instability|internal derangement)\b"
        ),
        unless=_rx(
            r"\bmost (?:knee|patients|problems)\b|\bruled out\b|\bbest approach\b|"
            r"\bif (?:radiculopathy|there)\b|\bexam(?:ination)? is (?:less clear|unclear)\b|\bfirst few weeks\b|"
            r"\bpresenting without\b|" + _GUIDELINE_BOILERPLATE.pattern
        ),
    ),
    _Rule(
        "no_red_flags_imaging",
        _rx(
            r"\b(?:neurolog\w*\s+(?:exam(?:ination)?|evaluation)\s+(?:was|is)\s+(?:otherwise\s+)?(?:normal|"
            r"unremarkable|intact|benign)|(?:reflexes|strength|sensation)(?: and (?:reflexes|strength|sensation))?"
            r"\s+(?:are|were|is|was)\s+(?:intact|normal)|normal (?:strength|reflexes|neurolog\w* exam\w*)|"
            r"full motor strength)\b"
        ),
    ),
    # conservative_care_not_tried: no documented trial and failure of conservative care or first-line treatment.
    _after_negation(
        "conservative_care_not_tried",
        _GAP,
        (
            r"\b(?:conservative\s+(?:care|treatments?|therap\w*|management|measures|options)|first[- ]line|"
            r"(?:trial and )?fail(?:ed|ure)\b|trial(?:ed)? and failed|tried and failed|intoleran\w*|"
            r"(?:un)?able to (?:tolerate|use oral|utilize oral|take oral)|cannot tolerate|contraindication)"
        ),
        unless=_rx(
            r"\bdo not respond to treatment\b|\bwould consider surgery\b|\bfailure to (?:improve|progress)\b|"
            r"\bhave failed\.|\bno (?:failure to improve|additional deterioration)\b|\brenal\b|\bnot needed\b|"
            r"\bonly recommended\b|\b(?:has|have) not responded\b|\bnot going to\b|\bwould not respond\b|"
            r"\bis (?:also )?supported when\b|" + _GUIDELINE_BOILERPLATE.pattern
        ),
    ),
    _Rule(
        "conservative_care_not_tried",
        _rx(
            r"\b(?:has|had|have)\s+not\s+(?:yet\s+)?(?:had|tried|undergone|completed|attempted|received)\b"
            r"(?:[^.;]){0,40}?\b(?:physical therapy|therapy|conservative|treatment|injections?|medications?)|"
            r"\byet to (?:complete|try|undergo|attempt)\b|\byet to be completed\b|"
            r"\b(?:no|fail\w* to provide)\b(?:[^.;]){0,40}?\btrue attempt\b"
        ),
    ),
    # no_surgical_indication: the patient is not shown to be a surgical candidate, or no surgery is planned that the
    # study or procedure would inform.
    _Rule(
        "no_surgical_indication",
        _rx(
            r"\b(?:no|lack of|without|absence of|absent|not)\b(?:[^.;]){0,40}?\b(?:plan(?:ned)?\s+(?:for\s+)?"
            r"(?:surgery|surgical|invasive procedure|operative)|surgical\s+(?:plan|candidate|candidacy|indication|"
            r"lesion|consideration)|candidate for surgery|clear indications? for surgery|planned invasive procedure|"
            r"(?:willingness|plan) to (?:consider|contemplate|undergo))"
        ),
    ),
    _Rule(
        "no_surgical_indication",
        _rx(
            r"\bnot\s+(?:a\s+)?(?:surgical\s+)?candidate\b|\bneeded in preparation for surgery\b|"
            r"\b(?:does|do|did)\s+not\s+meet\s+(?:the\s+)?"
            r"(?:surgical|operative)\s+criteria|\bno\s+discussion\b(?:[^.;]){0,40}?\bcandidate for surgery\b"
        ),
    ),
    _after_negation(
        "no_surgical_indication",
        _GAP_LONG,
        r"\b(?:consider|contemplat)\w*\s+(?:any kind of\s+)?surg\w*",
        unless=_rx(r"\bwould consider surgery an option\b|\bdo not respond\b|\bnot respond(?:ed)? to treatment\b"),
    ),
    # not_recommended_by_guideline: the guideline does not recommend the treatment (or a component) at all or for
    # this condition. Excludes the guidelines' own routine-use caveats and the long-term / first-line wordings, which
    # are other reasons.
    _Rule(
        "not_recommended_by_guideline",
        _rx(
            r"\b(?:is|are|was|were|be|been|as)?\s*not\s+(?:been\s+)?recommended\b|\b(?:do|does|did)\s+not\s+"
            r"recommend\b|\bnot\s+(?:generally\s+)?(?:supported|indicated)\s+(?:by|for|in)\s+(?:the\s+)?"
            r"(?:guidelines?|literature|evidence|acute|chronic|treatment of|topical use|use)\b"
        ),
        unless=_rx(
            r"\broutine(?:ly)?\b|\blong[- ]term\b|\blonger than\b|\bbeyond\b|\bas a first\b|\buntil\b|\bunless\b|"
            r"\bin most instances\b|\bwithout\b|\bexceed\w*\b|\bnot recommended to stop\b|\bnot be interpreted\b|"
            r"\bpurchase\b|\binitial trial\b|\bas (?:a )?primary\b|\bbefore\b|\bas first\b|\blongterm\b"
        ),
    ),
    _Rule(
        "not_recommended_by_guideline",
        _rx(
            r"\b(?:largely\s+)?experimental\b|\binvestigational\b|\bnot\s+(?:been\s+)?(?:proven|shown)\s+"
            r"(?:to be\s+)?effective\b|\bno\s+(?:peer[- ]reviewed|quality|scientific|published)\s+"
            r"(?:literature|evidence|studies)\b|\bnot\s+fda[- ]approved\b|\bnot\s+approved\s+in\s+any\s+other\b|"
            r"\bguidelines do not support the use\b|\bat odds with\b"
        ),
    ),
    # long_term_use_not_supported: continued or long-term use beyond the duration the guideline allows.
    _Rule(
        "long_term_use_not_supported",
        _rx(
            r"\b(?:not\s+recommended|not\s+indicated|not\s+supported|not\s+warranted|not\s+appropriate|limit(?:s|ed)?"
            r"(?:\s+use)?\s+to)\b(?:[^.;]){0,40}?\b(?:long[- ]term|chronic\s+use|prolonged|longer than|beyond|"
            r"more than \d+|\d+\s*(?:-\s*\d+\s*)?weeks)\b"
        ),
        unless=_rx(r"\bnot be interpreted\b|\bstop long-term opioids\b|\bfirst month\b|\bbefore\b"),
    ),
    _Rule(
        "long_term_use_not_supported",
        _rx(
            r"\blong[- ]?term (?:use|usage|treatment|therapy)\b(?:[^.;]){0,40}?\b(?:not|may not)\b|"
            r"\bin excess of the recommended (?:treatment )?(?:period|duration)\b|\bshortest (?:period|duration)\b|"
            r"\bshort[- ]term use\b|\b(?:continued|ongoing|chronic) (?:use|usage|treatment)\b(?:[^.;]){0,40}?"
            r"\bnot\s+(?:appropriate|supported|recommended|indicated|warranted)\b|\bchronic risk of continued\b"
        ),
        unless=_rx(r"\bnot be interpreted\b|\bstop long-term opioids\b"),
    ),
    # duplicate_or_already_done: redundant with a service already authorized or a recent identical study.
    _Rule(
        "duplicate_or_already_done",
        _rx(
            r"\bredundan\w*|\bduplicat\w*|\balready\s+(?:been\s+)?(?:authorized|approved|certified|performed|done|"
            r"obtained|completed)\b(?![^.;]{0,200}?\b(?:improvement|initial|prior sessions)\b)|\bimaging already\b|"
            r"\bwhy a repeat\b|\brepeat (?:study|mri|imaging|"
            r"scan|test\w*|x-?rays?)\b(?:[^.;]){0,40}?\b(?:not|unclear|necessary)\b|\bmultiple urine drug screens\b"
        ),
        unless=_rx(r"\bnot be interpreted\b|\broutinely\b"),
    ),
    # associated_with_denied_procedure: an associated service (assistant, post-op therapy, DME) whose primary
    # surgery or procedure was not certified.
    _Rule(
        "associated_with_denied_procedure",
        _rx(
            r"\b(?:primary|requested|associated|underlying|concurrent|proposed|initial)\s+(?:surgical\s+)?"
            r"(?:procedure|surgery|surgical intervention|intervention|operation)\b(?:[^.;]){0,60}?\b(?:not\s+"
            r"(?:been\s+)?(?:medically necessary|certified|approved|authorized|supported|indicated)|non-?certified|"
            r"denied)"
        ),
    ),
    _Rule(
        "associated_with_denied_procedure",
        _rx(
            r"\bancillary\s+services?\b(?:[^.;]){0,40}?\bnot\b|\b(?:since|as|because)\s+(?:the\s+)?(?:surgery|"
            r"procedure)\s+(?:is|was|has)\s+not\b"
        ),
    ),
    # criteria_not_met: the guideline's criteria or indications are not met, or the request departs from the
    # guideline without exceptional factors.
    _Rule(
        "criteria_not_met",
        _rx(
            r"\b(?:criteri(?:a|on)|requirements?)\b(?:[^.;]){0,40}?\b(?:not|n't)\s+(?:been\s+)?(?:met|satisfied|"
            r"fulfilled)|\b(?:no|not|any)\b(?:[^.;]){0,40}?\bthat meet (?:the\s+)?(?:odg|acoem|mtus|guidelines?)\b|"
            r"\b(?:does|do|did)\s+not\s+(?:meet|satisfy|fulfil+)\b|\bfails?\s+criteri\w*|"
            r"\b(?:guidelines?|mtus|criteria)\s+(?:have|has)\s+not\s+been\s+met\b|\bnot\s+(?:in\s+accordance|"
            r"consistent)\s+with\b|\bno\s+indication\s+for\s+(?:mri|imaging|the)\b(?:[^.;]){0,30}?\bis met\b"
        ),
    ),
    _Rule(
        "criteria_not_met",
        _rx(
            r"\b(?:no|lack of|absence of|without|not\s+(?:detail|note|document)\w*\s+any|none of the)\b(?:[^.;]){0,60}?"
            r"\b(?:exceptional|extenuating|compelling|special|unusual|unique)\s+(?:factors?|circumstances?|"
            r"clinical facts|reasons?|indications?)"
        ),
    ),
    _after_negation(
        "criteria_not_met",
        _GAP,
        (
            r"\b(?:neuropathic pain|history of (?:peptic ulcer|gi|gastrointestinal|bleeding)|(?:gi|gastrointestinal)"
            r" (?:risk|event|symptoms)|high risk|risk factors?|diagnosis for which|(?:acute )?anxiety or agitation|"
            r"depression associated|maximal medical improvement|unsuccessful return to work|homebound|osteoarthritis|"
            r"(?:specific|limited) indications?|gastrointestinal (?:events?|issues|complaints)|dyspepsia|"
            r"(?:30|thirty)[- ]day (?:home )?trial|one[- ]month (?:home[- ]based )?trial|home[- ]based trial)\b"
        ),
        unless=_rx(r"\bhigh risk for abuse\b|\bpatients with no\b"),
    ),
    _Rule(
        "criteria_not_met",
        _rx(r"\b(?:no|lack of)\s+(?:indication|evidence|documentation)\b(?:[^.;]){0,80}?\bas an adjunct\b"),
    ),
    # insufficient_information: the records are missing, incomplete, unclear, or give no rationale for the request.
    _Rule(
        "insufficient_information",
        _rx(
            r"\b(?:in|not\s+)sufficient\s+(?:clinical\s+|medical\s+)?(?:information|documentation|records)\b|"
            r"\b(?:very\s+)?limited\s+(?:medical\s+)?(?:record|documentation|information)\b|"
            r"\b(?:records?|notes?|documentation)\s+(?:was|were|is|are)\s+(?:silent|incomplete|illegible)\b|"
            r"\billegible\b|\b(?:un|not\s+)(?:clear|certain|known)\s+(?:if|whether|how|as to|what|why|when)\b|"
            r"\buncertain\s+(?:if|whether|how|what)\b|\bresults?\s+(?:are|is|were|was)\s+(?:unknown|not\s+"
            r"(?:provided|available|submitted))\b|\b(?:was|were|is|are)\s+not\s+(?:provided|submitted|available|"
            r"included)\s+for\s+review\b|\bno\s+actual\s+report\b|\bbased on the lack of (?:above|this)\b"
        ),
    ),
    _Rule(
        "insufficient_information",
        _rx(
            r"\b(?:no|lack of|without|absence of|not\s+(?:provide|give|note|state)\w*|fail\w*\s+to\s+"
            r"(?:provide|document|explain|state|establish|detail))\b(?:\s+(?:a|an|any|the))?(?:\s+(?:clear|"
            r"evidence[- ]based|specific|objective|medical|clinical|compelling|or))*\s+(?:rationale|reason|explanation|"
            r"justification)\b|\bfail\w*\s+to\s+furnish\b|\brational(?:e)?\b(?:[^.;]){0,60}?\bnot\s+apparent\b|"
            r"\bunclear of the rationale\b|\b(?:does|did|do)\s+not\s+(?:detail|explain)\s+the\s+need\b|"
            r"\b(?:did|does|do)\s+not\s+(?:note|document|state)\s+(?:what|which|when|how)\b|"
            r"\bspecifying (?:when|what|which)\b|"
            r"\brationale\b(?:[^.;]){0,60}?\b(?:was|were|is)\s+not\s+(?:provided|given|documented|stated)\b|"
            r"\btreatment goals\s+(?:were|are)\s+(?:neither|not)\b|\bnot\s+address\w*\s+(?:the\s+)?medical\s+"
            r"necessity\b|\b(?:was|were)\s+not\s+provided\b|\bhow imaging will change\b"
        ),
        unless=_rx(r"\bmedication efficacy\b|\bno reason to doubt\b"),
    ),
    _Rule(
        "insufficient_information",
        _rx(
            r"\b(?:how many|number of|total number of)\b(?:[^.;]){0,40}?\b(?:sessions?|visits?|treatments?)\b"
            r"(?:[^.;]){0,60}?\b(?:not\s+(?:noted|documented|indicated|provided|known|clear)|unclear|unknown)\b|"
            r"\b(?:not|lack of documentation)\b(?:[^.;]){0,30}?\b(?:indicating|documenting|noting)\s+(?:the\s+)?"
            r"(?:total\s+)?(?:number|how many)\b"
        ),
    ),
)

_SENTENCE_END: Final = re.compile(r"(?<=[.;!?])\s+(?=[\"'(\[]?[A-Z0-9])")
# Real rationale sentences stay under 800 characters. Longer runs (no full stops: tables, extraction noise, hostile
# input) are cut into pieces so that the cost of the bounded-gap patterns stays linear in the text's length.
_MAX_SENTENCE_CHARS: Final = 1_000
_MAX_RATIONALE_CHARS: Final = 200_000


def _sentences(text: str) -> list[str]:
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(" ".join(text[: _MAX_RATIONALE_CHARS * 2].split())[:_MAX_RATIONALE_CHARS]):
        pieces.extend(
            sentence[start : start + _MAX_SENTENCE_CHARS] for start in range(0, len(sentence), _MAX_SENTENCE_CHARS)
        )
    return [piece for piece in pieces if piece]


def mine_reasons(rationale: str) -> set[str]:
    """The reason codes a reviewer's rationale gives (empty when none of the rules fire)."""
    if not isinstance(rationale, str) or not rationale.strip():
        return set()
    found: set[str] = set()
    for sentence in _sentences(rationale):
        for rule in _RULES:
            if rule.code not in found and rule.applies(sentence):
                found.add(rule.code)
    return found


def reason_labels(codes: Iterable[str]) -> list[str]:
    """The words for each known code, in the taxonomy's order (unknown codes are skipped)."""
    wanted = set(codes)
    return [REASONS[code] for code in REASON_CODES if code in wanted]


def reason_vector(codes: Iterable[str]) -> list[int]:
    """A 0/1 indicator per code in :data:`REASON_CODES` order: the multi-label target for a reason model."""
    wanted = set(codes)
    return [int(code in wanted) for code in REASON_CODES]


def parse_codes(cell: str) -> set[str]:
    """Codes from a hand-check cell ("a;b", "a b" or empty). Raises ValueError on a code not in the taxonomy."""
    codes = {c for c in re.split(r"[;,\s]+", cell.strip()) if c}
    unknown = codes - set(REASONS)
    if unknown:
        raise ValueError(f"unknown reason code(s): {sorted(unknown)}")
    return codes


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def evaluate_against_handcheck(pairs: Sequence[tuple[set[str], set[str]]]) -> dict[str, dict[str, float]]:
    """Per-code and micro precision / recall / F1 of (predicted, hand-checked) code sets.

    ``support`` is the number of hand-checked items carrying the code, ``predicted`` how many the rules gave it.
    Codes that neither side used are left out; precision is NaN where nothing was predicted.
    """
    report: dict[str, dict[str, float]] = {}
    total_tp = total_fp = total_fn = 0
    for code in REASON_CODES:
        tp = sum(1 for pred, gold in pairs if code in pred and code in gold)
        fp = sum(1 for pred, gold in pairs if code in pred and code not in gold)
        fn = sum(1 for pred, gold in pairs if code not in pred and code in gold)
        total_tp, total_fp, total_fn = total_tp + tp, total_fp + fp, total_fn + fn
        if tp + fp + fn:
            report[code] = _scores(tp, fp, fn)
    report["micro"] = _scores(total_tp, total_fp, total_fn)
    exact = sum(1 for pred, gold in pairs if pred == gold)
    report["micro"]["exact_match"] = _ratio(exact, len(pairs))
    return report


def _scores(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": float(tp + fn),
        "predicted": float(tp + fp),
    }
