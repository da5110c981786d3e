"""The patterns the documentation checks look for: prior therapy and its outcome, findings and red flags,
conservative care, first-line medications, medication efficacy and monitoring, guidelines named or disfavoured."""

from __future__ import annotations

import functools
import re
from typing import Final

from features.checklist.core import (
    _CONTINUATION,
    _NEGATION_BEFORE_RED_FLAG,
    DIAGNOSTIC_CATEGORIES,
    Request,
    _first,
    _first_affirmed,
    _found,
    _Outcome,
    _rx,
    _rx_words,
)
from features.checklist.counts import _CLAUSE, _FAMILIES, _family_of

# --------------------------------------------------------------------------------------------------------------
# Prior therapy and its documented outcome
# --------------------------------------------------------------------------------------------------------------

_PRIOR_CUE: Final = (
    r"(?:had|has had|have had|completed|attended|received|underwent|undergone|tried|prior|previous|previously|"
    r"past|course|sessions? of|visits? of|treatment to date|treatments? (?:have|has) included|include[sd]?|"
    r"continued?|ongoing|currently)"
)
_PRIOR_THERAPY: Final[dict[str, re.Pattern[str]]] = {
    family.name: _rx(rf"\b{_PRIOR_CUE}\b[^.;]{{0,60}}?{family.pattern.pattern}") for family in _FAMILIES
}
# A clause about what is planned or requested now is not a prior course.
_PLANNED: Final = _rx(r"\b(?:plan|planned|request\w*|recommend\w*|will|would|rfa|ordered)\b")


def _continues_therapy(request: Request) -> bool:
    if _CONTINUATION.search(request.item):
        return True
    family = _family_of(request.item)
    if family is None:
        return False
    prior = _PRIOR_THERAPY[family.name]
    return any(_mentions_prior(prior, clause) for clause in _CLAUSE.findall(request.summary))


def _mentions_prior(prior: re.Pattern[str], clause: str) -> bool:
    """Whether the clause names a prior course of the therapy, with no plan or request up to where it is named.

    Only the words up to the mention are read, so appending words to a summary never withdraws the check.
    """
    position = 0
    while (match := prior.search(clause, position)) is not None:
        if not _PLANNED.search(clause, 0, match.end()):
            return True
        position = match.start() + 1
    return False


# --------------------------------------------------------------------------------------------------------------
# Diagnostic studies and procedures: findings, conservative care, surgical plan
# --------------------------------------------------------------------------------------------------------------

# Provocative tests, in the names and abbreviations examiners use.
_PROVOCATIVE: Final = (
    r"(?:straight[- ]leg[- ]rais\w*|slr|slump|spurling\w*|phalen\w*|tinel\w*|hoffmann?\w*|babinski|mcmurray\w*|"
    r"lachman\w*|(?:anterior |posterior )?drawer|apprehension|hawkins?\w*|neer\w*|impingement|drop arm|empty can|"
    r"jobe\w*|o'brien\w*|speed\w*|yergason\w*|faber\w*|patrick\w*|finkelstein\w*|pivot shift|durkan\w*|thessaly|"
    r"kemp\w*|lift-?off|belly press|valgus stress|varus stress|carpal compression|provocative|"
    r"compression test)"
)
# The body parts and movements an examiner grades ("weakness of ankle dorsiflexion", "EHL weakness").
_MOTOR: Final = (
    r"(?:dorsiflex\w*|plantar\s?flex\w*|extens\w*|flex\w*|abduct\w*|adduct\w*|rotat\w*|eversion|inversion|grip|"
    r"ehl|extensor\w*|flexor\w*|deltoid|biceps|triceps|quadriceps|quads|hamstrings?|hip flexors?|intrinsics?|"
    r"great toe|toes?)"
)

# Objective findings only: reviewers discount subjective complaints (numbness, radiating pain) and diagnoses
# ("radiculopathy", "cumulative trauma") that the examination does not corroborate.
_OBJECTIVE_FINDING: Final = _rx_words(
    r"\b(?:red[- ]flags?|cauda equina|bowel or bladder (?:incontinence|dysfunction|retention)|saddle an(?:a)?esthesia|"
    r"(?:acute|suspected|displaced|new)\s+fractures?|dislocation|tumou?r|cancer|malignan\w*|infection|osteomyelitis|"
    r"progressive\s+(?:neurolog\w*\s+)?(?:deficits?|weakness|numbness)|myelopathy|"
    r"(?:decreased|diminished|reduced|altered|absent|loss of|impaired|asymmetric)\s+(?:light touch\s+)?(?:sensation|"
    r"sensory|reflex\w*|strength|motor|pinprick)|hypoesthesia|hypesthesia|sensory (?:deficit|loss)|dermatomal|"
    r"motor (?:strength )?(?:of\s+)?[0-4]\+?/5|\b[0-4][+-]?/5\b|hyporeflexia|areflexia|atrophy|foot drop|"
    r"(?:focal\s+)?neurolog\w*\s+(?:deficits?|dysfunction|compromise|signs)|nerve\s+(?:root\s+)?(?:compromise|"
    r"impingement|compression|entrapment)|"
    # "Sensation is decreased to light touch", "the Achilles reflex was diminished", "ankle reflex is 1+".
    r"(?:sensation|sensory exam\w*|reflex(?:es)?|jerks?|strength|pinprick|light touch)\s+(?:(?:was|were|is|are)\s+)?"
    r"(?:noted\s+to\s+be\s+|found\s+to\s+be\s+)?(?:decreased|diminished|reduced|absent|abnormal|altered|impaired|"
    r"asymmetric\w*|hypoactive|depressed|trace|0|1\+)(?![\w+])|"
    rf"weakness\s+(?:of|in|on|with)\s+(?:the\s+)?(?:(?:right|left|bilateral)\s+)?(?:\w{{1,20}}\s)?{_MOTOR}|"
    rf"{_MOTOR}\s+weakness|"
    rf"positive\s+(?:\w{{1,20}}\s)?{_PROVOCATIVE}(?:'s)?|"
    # "Spurling's test was positive", "Hawkins and Neer impingement signs were positive", "SLR positive on the left".
    rf"{_PROVOCATIVE}(?:'s)?(?:\s+(?:test|sign|maneuver)s?)?\s+(?:positive|\+)|"
    rf"{_PROVOCATIVE}(?:'s)?\b[^.;]{{0,40}}?\b(?:was|is|were|are)\s+(?:\w{{1,20}}\s)?positive|"
    r"instability|locking|giving way|effusion|unable to bear weight|inability to bear weight|"
    r"(?:loss|lost) of consciousness|(?:failed|failure of)\s+(?:\w+\s+){0,3}?(?:conservative|physical therapy)|"
    r"clarification of (?:the )?anatomy|(?:surgery|surgical intervention|injection) (?:is|was) (?:being )?"
    r"(?:considered|planned|contemplated|recommended))\b"
)

# Red flags: the conditions for which the guidelines image or test at once, without a trial of conservative care
# (ACOEM: cauda equina syndrome, progressive or severe neurologic deficit, suspected fracture, tumour or infection).
# A bare "fracture" or "tumor" is not enough ("fracture was ruled out"); a suspicion is ("to rule out fracture").
_SUSPECTED: Final = (
    r"(?:suspected|suspect|suspicion (?:of|for)|concern (?:of|for)|concerning for|possible|probable|likely|occult|"
    r"rule out|r/o|rule-out|evaluate for|to exclude|exclude)"
)
_RED_FLAG: Final = _rx_words(
    r"\b(?:cauda equina(?: syndrome)?|conus medullaris|saddle (?:an(?:a)?esthesia|numbness|paresthesias?|sensory "
    r"(?:loss|changes))|foot drop|drop foot|wrist drop|"
    r"progressive(?:ly)?\s+(?:worsening\s+)?(?:\w{1,20}\s){0,2}?(?:neurolog\w*\s+|motor\s+|sensory\s+)?(?:deficits?|"
    r"weakness|numbness|loss of (?:strength|sensation|function))|(?:new|worsening|"
    r"severe)\s+(?:focal\s+)?(?:neurolog\w*|motor)\s+"
    r"(?:deficits?|weakness|loss)|myelopath\w*|"
    r"(?:bowel|bladder)(?:\s+(?:and|or|and/or|&)\s+(?:bowel|bladder))?\s+(?:incontinence|dysfunction|retention|"
    r"changes|symptoms|problems|control)|(?:urinary|fecal|bowel|bladder)\s+(?:incontinence|retention)|"
    r"loss of (?:bowel|bladder)\w*|incontinence|"
    rf"(?<!non-)(?<!non)(?:{_SUSPECTED}|acute|displaced|unstable|pathologic(?:al)?|compression|stress|new)\s+"
    r"(?:an?\s+)?(?:\w{1,20}\s)?fractures?|fractures?\s+(?:is|was)\s+suspected|"
    rf"(?:history of|hx of|known|metastatic|{_SUSPECTED})\s+(?:\w{{1,20}}\s)?(?:cancer|malignan\w*|tumou?rs?|"
    r"carcinoma|lymphoma|myeloma|neoplasm\w*|metasta\w*)|metasta\w*|"
    rf"(?:spinal|disc|bone|joint|deep|epidural|vertebral|{_SUSPECTED})\s+(?:space\s+)?infection|osteomyelitis|"
    r"discitis|septic (?:arthritis|joint)|(?:epidural|spinal|paraspinal) abscess|unexplained (?:weight loss|fever)|"
    r"aortic aneurysm|vascular compromise|compartment syndrome)\b"
)
_RED_FLAG_NOTE: Final = "red flags documented: conservative care is not required first"


@functools.lru_cache(maxsize=8)
def _red_flag(documentation: str) -> str | None:
    """The first affirmed red flag (two checks read it on every diagnostic request, so it is read once)."""
    return _first_affirmed(_RED_FLAG, documentation, _NEGATION_BEFORE_RED_FLAG)


def _check_objective_findings(request: Request) -> _Outcome:
    found = _first_affirmed(_OBJECTIVE_FINDING, request.documentation)
    if found is None:
        found = _red_flag(request.documentation)
    return _found(found)


_CONSERVATIVE: Final = (
    r"(?:conservative\s+(?:care|treatments?|therapy|management|measures|modalities|options)|physical therap\w*|"
    r"physiotherap\w*|occupational therap\w*|\bpt\b|\bot\b|\bhep\b|therapy|therapies|medications?|meds|nsaids?|"
    r"anti-?inflammator\w*|analgesics?|ibuprofen|naproxen|motrin|aleve|advil|meloxicam|mobic|celebrex|diclofenac|"
    r"acetaminophen|tylenol|gabapentin|injections?|chiropractic|chiro\w*|manipulation|acupuncture|massage|rest|"
    r"home exercises?(?: program)?|exercises?|bracing|braces?|splint\w*|orthotics?|activity modification|"
    r"modified (?:work|duty|activit\w*)|ice|heat|tens|esis?|epidurals?|cortisone)\b"
)
# "Tried and failed", not merely "treatment to date has included": reviewers ask for the failure. (On the letters,
# accepting a list of past treatments as evidence halves the recall of this check for the same precision.) The
# failure may come before the care ("failed conservative care", "despite PT") or after it ("conservative care ...
# has failed", "physical therapy without improvement", "NSAIDs, PT and a HEP, with persistent pain").
_CARE_FAILED_AFTER: Final = (
    r"(?:(?:has|have|had|was|were)\s+(?:\w{1,20}\s)?failed|failed\b|(?:was|were|has been|have been|proved|proven)\s+"
    r"(?:ineffective|unsuccessful|unhelpful|not (?:effective|helpful|successful))|ineffective|unsuccessful|"
    r"(?:did|does|has|have|had)\s+not\s+(?:help|improve|relieve|resolve|work|provide|helped|improved|relieved|"
    r"resolved|worked|provided)|(?:not|never)\s+(?:helped|relieved|improved|resolved|worked)|failed to (?:help|"
    r"improve|relieve|resolve)|failed to provide (?:\w{1,20}\s)?(?:relief|benefit|improvement)|"
    r"(?:without|with no|with little|with minimal|with only|gave no|gave little|gave only|provided no|provided only|"
    r"offered no|brought no|no)\s+(?:\w{1,20}\s)?(?:relief|improvement|benefit|change|response|help)|(?:with|but|"
    r"yet)\s+(?:\w{1,20}\s)?(?:persistent|persisting|continued|continuing|ongoing|"
    r"residual|unchanged|worsening|recurrent)\s+(?:\w{1,20}\s){0,2}?(?:pain|symptoms|complaints|numbness|"
    r"radicular|weakness|tingling))"
)
# Up to 12 words of one clause, none of them a negation or a denial ("TENS was denied as there is no indication the
# patient failed ..." is not a failed TENS trial), then the separator before the next word. Word by word (not
# character by character) and with a first-letter guard on the failure words, so that text dense with care words
# ("PT PT PT ...") stays cheap.
_CLAUSE_WORDS_NO_DENIAL: Final = (
    r"(?:[^\w.;'/-]{1,4}(?!(?:no|not|denied|denies|non-?certified|non|without)\b)[\w'/-]{1,30}){0,12}?"
    r"[^\w.;'/-]{1,4}(?=[bdfghiuwy]|pr|n[eo]|of)"
)
# "Failed to approve / provide / document ..." is about paperwork, not a failed treatment.
_NOT_PAPERWORK: Final = (
    r"(?!\s+to\s+(?:approve|authorize|certify|provide|submit|document|show|indicate|demonstrate|establish|include|"
    r"mention|attend|meet|follow))"
)
_CONSERVATIVE_TRIED: Final = _rx_words(
    rf"\b(?:failed{_NOT_PAPERWORK}|failure of|failing|despite|in spite of|refractory to|unresponsive to|"
    r"recalcitrant to|no (?:\w{1,20}\s)?(?:relief|improvement|benefit|response) (?:with|from|after|to)|"
    r"(?:did|does|has|have|had) not (?:help|improve|respond|resolve|get better|improved|helped|responded|resolved)|"
    r"not (?:responded|responding|improved|improving) (?:to|with)|without (?:\w{1,20}\s)?(?:relief|improvement|"
    r"benefit)|(?:persist\w{0,4}|continu\w{0,4}|"
    r"ongoing|residual|recurrent|unchanged|worse\w{0,4}|remains? symptomatic|still (?:has|had|have|reports?|"
    r"complains?))\s+(?:\w{1,20}\s){0,3}?(?:after|following)|persistent (?:pain|symptoms) "
    r"(?:despite|after)|continue[sd]? to (?:have|report|complain)[^.;]{0,40}?despite)\b"
    rf"[^.;]{{0,60}}?\b{_CONSERVATIVE}|"
    rf"\b{_CONSERVATIVE}{_CLAUSE_WORDS_NO_DENIAL}{_CARE_FAILED_AFTER}"
)


def _check_conservative_care(request: Request) -> _Outcome:
    if request.category in DIAGNOSTIC_CATEGORIES:
        # Imaging and electrodiagnostics on the red-flag path: a documented red flag answers the question.
        flag = _red_flag(request.documentation)
        if flag is not None:
            return _Outcome(True, evidence=flag, note=_RED_FLAG_NOTE)
    return _found(_first_affirmed(_CONSERVATIVE_TRIED, request.documentation))


# First-line oral medications (MTUS: NSAIDs or acetaminophen before opioids; antidepressants or anticonvulsants
# before topical analgesics for neuropathic pain), by class, abbreviation and common name.
_FIRST_LINE: Final = (
    r"(?:oral\s+(?:\w{1,20}\s)?(?:medications?|analgesics?|nsaids?|anti-?inflammator\w*|agents?|pain relievers?)|"
    r"nsaids?|anti-?inflammator\w*|antidepressants?|anticonvulsants?|antiepileptics?|neuropathic (?:agents?|"
    r"medications?)|first[- ]line(?:\s+(?:\w{1,20}\s)?(?:agents?|medications?|therapy|therapies|treatments?|drugs?|"
    r"analgesics?))?|tricyclics?|tcas?|snris?|gabapentin|neurontin|lyrica|pregabalin|amitriptyline|elavil|"
    r"nortriptyline|duloxetine|cymbalta|venlafaxine|effexor|topiramate|topamax|acetaminophen|tylenol|apap|"
    r"non-?opioid(?:\s+(?:analgesics?|medications?|agents?|therapy|pain relievers?))?|ibuprofen|motrin|advil|"
    r"naproxen|naprosyn|anaprox|aleve|meloxicam|mobic|celecoxib|celebrex|diclofenac|etodolac|nabumetone|relafen|"
    r"ketorolac|indomethacin)\b"
)
_FIRST_LINE_TRIED: Final = _rx_words(
    r"\b(?:intoleran\w*|unable to tolerate|cannot tolerate|could not tolerate|did not tolerate|contraindicat\w*|"
    r"gi upset|upset stomach|stomach upset|gastritis|dyspepsia|heartburn|side effects|allerg\w*)\b"
    rf"[^.;]{{0,40}}?\b{_FIRST_LINE}|"
    rf"\b(?:failed{_NOT_PAPERWORK}|failure of|tried|trials? of|trialed|did not (?:help|tolerate)|"
    r"no (?:relief|benefit) (?:with|from)|previously (?:on|took|taking|tried|used|prescribed)|"
    r"(?:was|were|has been|had been) (?:on|prescribed|taking|using)|(?:currently|presently) (?:on|taking|using)|"
    r"is (?:taking|using)|takes|treatment to date (?:has |had )?"
    r"included|treatments? (?:has|have|had) included|(?:has|had|have) (?:taken|used|tried)|took)\b"
    rf"[^.;]{{0,50}}?\b{_FIRST_LINE}|"
    rf"\b{_FIRST_LINE}[^.;]{{0,50}}?\b(?:failed|(?:was|were|are|is|has been|have been)\s+(?:not tolerated|tried|"
    r"trialed|ineffective|unhelpful|contraindicated|not effective|not helpful|discontinued|stopped)|ineffective|"
    r"not tolerated|contraindicat\w*|"
    r"(?:did|does|has|have|had)\s+not\s+(?:help|helped|work|worked|relieve|relieved|provide)|without (?:\w{1,20}\s)?"
    r"(?:relief|benefit|improvement|success)|(?:with|gave|provided|offered)\s+(?:no|little|minimal|partial|some|only "
    r"(?:partial|temporary|minimal)|temporary|limited)\s+(?:\w{1,20}\s)?(?:relief|benefit|improvement)|caused|causes|"
    r"causing|led to|resulted in|(?:gi|stomach|gastric) upset|side effects)\b"
)


_SURGERY_CERTIFIED: Final = _rx_words(
    r"\b(?:surgery|surgical (?:procedure|intervention)|procedure|arthroscopy|repair|fusion|release|"
    r"decompression|replacement|reconstruction|discectomy|laminectomy|\w+ectomy|\w+plasty)\b[^.;]{0,40}?\b(?:was|"
    r"has been|had been|is|were)\s+(?:authorized|certified|approved|scheduled|performed|completed|done)\b|"
    r"\bstatus[- ]post\b|\bs/p\b|\bunderwent\b[^.;]{0,40}?\b(?:surgery|repair|arthroscopy|fusion|release|"
    r"decompression|replacement|reconstruction|\w+ectomy|\w+plasty)\b|\bpost-?operative(?:ly)?\s+(?:day|week|"
    r"visit)\b|\bauthorized\s+(?:the\s+)?(?:surgery|procedure)\b|"
    # "Utilization review approved the L4-5 fusion" (never "non-certified the surgery").
    r"(?<![\w-])(?:approved|certified|authorized)\s+(?:the\s+)?(?:[\w/-]{1,20}\s){0,3}?(?:surgery|procedure|"
    r"arthroscopy|repair|fusion|release|decompression|replacement|reconstruction|discectomy|laminectomy|"
    r"\w{1,30}ectomy|\w{1,30}plasty)\b"
)


_ASSOCIATED_SERVICE: Final = _rx(
    r"\b(?:associated surgical service|post-?op\w*|pre-?op\w*|post-?surgical|assistant(?: surgeon| pa)?|"
    r"surgical assistant|pa assist|medical clearance|surgical clearance)\b"
)


# --------------------------------------------------------------------------------------------------------------
# Medications: efficacy, monitoring, indication, short courses
# --------------------------------------------------------------------------------------------------------------

# What a prescriber calls the medication: a class, a form or a common name ("Norco reduces her pain").
_MEDICINE: Final = (
    r"(?:medications?|meds|medicines?|opioids?|narcotics?|analgesics?|muscle relaxants?|patch(?:es)?|cream|gel|it|"
    r"norco|hydrocodone|oxycodone|oxycontin|percocet|tramadol|ultram|tapentadol|nucynta|morphine|methadone|fentanyl|"
    r"butrans|buprenorphine|gabapentin|neurontin|lyrica|pregabalin|cymbalta|duloxetine|naproxen|ibuprofen|motrin|"
    r"celebrex|meloxicam|cyclobenzaprine|flexeril|tizanidine|zanaflex|baclofen|lidoderm|tylenol)"
)
_MEDICATION_EFFICACY: Final = _rx_words(
    r"\b(?:(?:pain|vas)\b[^.;]{0,40}?\b(?:with|on|after)\s+(?:the\s+)?(?:medications?|meds)\b|(?:with|on)\s+(?:the\s+)?"
    r"(?:medications?|meds)\b[^.;]{0,30}?\b(?:pain|vas)\b[^.;]{0,20}?\d{1,2}(?:/10)?|(?:without|off)\s+(?:the\s+)?"
    r"(?:medications?|meds)\b[^.;]{0,30}?\d{1,2}(?:/10)?|"
    rf"{_MEDICINE}\s+(?:help\w*|reduce\w*|decrease\w*|allow\w*|improve\w*|relieve\w*|lower\w*|work\w*|lets?|"
    r"enables?|(?:is|are|was|were|has been|have been)\s+(?:beneficial|effective|helpful|working)|(?:provide\w*|"
    r"give\w*|gave)\s+(?:her\s+|him\s+|them\s+)?(?:\w{1,20}\s)?(?:relief|benefit|improvement|pain relief|\d{1,3}\s*%))|"
    # "With medications he is able to walk for 30 minutes".
    rf"(?:with|on|using|taking)\s+(?:the\s+|his\s+|her\s+|current\s+|these\s+)?{_MEDICINE}\b[^.;]{{0,40}}?"
    r"\b(?:is able to|are able to|able to|can\b|allows?|improv\w*|decreas\w*|reduc\w*|better)|"
    r"\d{1,3}\s*%\s+(?:pain\s+)?(?:relief|improvement|reduction|decrease)|(?:pain\s+)?relief\s+(?:with|from|of)\s+"
    r"(?:the\s+)?(?:medications?|meds|\w+)|(?:improved|increased)\s+(?:function\w*|ability|activities|adls?|"
    r"tolerance|sleep)\b[^.;]{0,40}?\b(?:with|on|from)\b|from\s+\d{1,2}/10\s+to\s+\d{1,2}/10|"
    r"(?:pain|vas|pain (?:scores?|levels?|ratings?))\s+(?:\w{1,20}\s){0,2}?(?:decrease[sd]?|reduce[sd]?|improve[sd]?|"
    r"drops?|dropped|goes down|went down|comes down|came down)\s+from\s+\d{1,2}|"
    # "6/10 before and 3/10 after application".
    r"\d{1,2}/10\s+(?:before|without|prior to|off)\b[^.;]{0,40}?\b\d{1,2}/10\s+(?:after|with|on)\b)"
)


_OPIOID_MONITORING: Final = _rx_words(
    r"\b(?:urine (?:drug|toxicology|tox)(?: (?:screens?|tests?|testing|screening|results?|reports?|panels?))?|"
    r"(?:drug|toxicology) (?:screens?|tests?|testing|screening|reports?)|uds|udt|utox|cures(?: report| database)?|"
    r"pdmp|prescription drug monitoring|pain (?:contract|agreement)|(?:opioid|narcotic|medication|treatment) "
    r"(?:agreement|contract)|(?:no|denies|without) (?:\w{1,20}\s)?(?:side effects|adverse effects|aberran\w*)|"
    r"side effects|adverse effects|aberran\w* (?:behaviou?rs?|drug)|four a'?s|4 a'?s|pill counts?|"
    r"consistent (?:uds|urine)|compliance|compliant)\b"
)


_ACID_SUPPRESSANT: Final = _rx(
    r"\b(?:omeprazole|prilosec|pantoprazole|protonix|ranitidine|zantac|pepcid|famotidine|esomeprazole|nexium|"
    r"lansoprazole|prevacid|dexlansoprazole|dexilant|rabeprazole|ppi|proton pump|deprizine)\b"
)
_GI_RISK: Final = _rx_words(
    r"\b(?:(?:gi|gastrointestinal|stomach|gastric|epigastric|abdominal)\s+(?:upset|pain|distress|symptoms|complaints|"
    r"issues|irritation|bleed\w*|risk|discomfort)|dyspepsia|gastritis|gerd|(?:acid\s+)?reflux|heartburn|"
    r"peptic ulcers?|ulcers?|gi bleed\w*|anticoagula\w*|aspirin|corticosteroids?|(?:age|aged)\s+(?:over|greater "
    r"than|>)\s*65|nausea|"
    # MTUS GI risk: age over 65, anticoagulants or corticosteroids, high-dose or multiple NSAIDs.
    r"(?:6[6-9]|[7-9]\d)[- ]years?[- ]old|(?:age|aged)\s+(?:6[6-9]|[7-9]\d)|warfarin|coumadin|apixaban|eliquis|"
    r"rivaroxaban|xarelto|clopidogrel|plavix|heparin|enoxaparin|lovenox|blood thinners?|prednisone|prednisolone|"
    r"methylprednisolone|medrol|dexamethasone|oral steroids?|high[- ]dose (?:\w{1,20}\s)?(?:nsaids?|ibuprofen|"
    r"naproxen|anti-?inflammator\w*)|(?:multiple|two) nsaids)\b"
)


_SHORT_COURSE_DRUG: Final = _rx(
    r"\b(?:cyclobenzaprine|flexeril|fexmid|amrix|orphenadrine|norflex|carisoprodol|soma|methocarbamol|robaxin|"
    r"metaxalone|skelaxin|chlorzoxazone|lorzone|parafon|tabradol|benzodiazepines?|diazepam|valium|alprazolam|xanax|"
    r"clonazepam|klonopin|lorazepam|ativan|temazepam|muscle relaxants?)\b"
)
_SHORT_COURSE: Final = _rx_words(
    r"\b(?:acute\s+(?:flare\w*|exacerbation|spasms?|muscle spasms?|injury|phase|pain)|flare[- ]?ups?|short[- ]"
    r"(?:course|term)|new(?:ly)?\s+prescri\w*|first\s+prescri\w*|initial\s+prescri\w*|started\s+on|"
    r"(?:for|x)\s+(?:\d{1,2}|one|two|three|seven|ten|fourteen)\s+days?|(?:one|two|1|2)\s+weeks?|"
    r"(?:\d{1,2}|one|two|three|five|seven|ten|fourteen)[- ](?:day|week)\s+(?:course|supply|trial|taper)|"
    r"(?:brief|limited)\s+(?:course|trial|period|duration))\b"
)


# --------------------------------------------------------------------------------------------------------------
# Whole request: guideline named, treatment the guidelines recommend, stated purpose
# --------------------------------------------------------------------------------------------------------------

_GUIDELINE: Final = _rx(
    r"\b(?:ca\s+)?(?:mtus|acoem|odg|official disability guidelines|medical treatment utilization schedule|chronic pain "
    r"(?:medical )?treatment guidelines|post-?surgical treatment guidelines|acupuncture (?:medical )?treatment "
    r"guidelines|american college of occupational and environmental medicine)\b"
)


# Treatments (or components) the MTUS / ODG call "not recommended" in the letters' rationales: compounded topicals
# with a non-recommended ingredient, topical lidocaine other than the patch, medical foods, passive modalities such
# as shockwave, infrared, laser, traction and therapeutic ultrasound, surface EMG, SSEPs for radiculopathy,
# trigger point impedance imaging and hyperstimulation analgesia.
_NOT_RECOMMENDED: Final = _rx(
    r"\b(?:compound\w*|(?:flurbiprofen|ketoprofen|gabapentin|cyclobenzaprine|baclofen|tramadol|amitriptyline|"
    r"dextromethorphan|bupivacaine|camphor)\b[^,;()]{0,25}?(?:%|cream|gel|ointment|topical|lotion)|"
    r"lidocaine\s+(?:\d+(?:\.\d+)?\s*%\s+)?(?:cream|ointment|gel|lotion)|lidopro|(?:cream|ointment)\s+base|"
    r"theramine|sentra|gabadone|trepadone|medical foods?|tabradol|deprizine|dicopanol|fanatrex|synapryn|ketophene|"
    r"anecream|salonpas|fioricet|butalbital|(?:ncv|ncs|nerve conduction)\b[^,;]{0,30}?\blower extremit\w*|"
    r"terocin|shock ?wave|eswt|infrared|(?:low[- ]level\s+)?laser|traction|spinolator|thermograph\w*|tpii|"
    r"impedance imaging|hyperstimulation|localized intense neurostimulation|ultrasound\s+(?:therapy|treatment)|"
    r"therapeutic ultrasound|surface emg|manipulation under anesthesia|ssep\w*|somatosensory evoked|"
    r"grip (?:strength )?test\w*|jamar|range of motion test\w*|neuroplasty|adhesiolysis|h-?wave|"
    r"(?:^|\b)ultrasound\s+\d{1,2}\s+times)(?![a-z])"
)


def _check_recommended(request: Request) -> _Outcome:
    flagged = _first(_NOT_RECOMMENDED, request.item)
    if flagged is None:
        return _Outcome(True)
    return _Outcome(False, evidence=flagged, note="the MTUS/ODG do not recommend this treatment or an ingredient")
