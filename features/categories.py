"""Treatment category of a DWC disputed item, from the item text alone.

DWC letters carry no category field, but the prior baseline ("upheld rate per treatment category", what an
experienced adjuster already knows) and the per-category evaluation slices need one. The rules are ordered:
the first matching category wins, so specific ones (e.g. topical compounds) come before general ones.
"""

from __future__ import annotations

import re
from typing import Final

OTHER: Final = "Other"

#: The request's category fields, in model-input order: what the DMHC export records per case and item (a DWC
#: request has only ``treatment_category``, derived below). The one list the view, the DMHC candidate's default
#: columns and the API's case/item split are written from.
CATEGORY_FIELDS: Final[tuple[str, ...]] = (
    "treatment_category",
    "treatment_subcategory",
    "diagnosis_category",
    "diagnosis_subcategory",
    "review_type",
    "imr_type",
    "age_range",
    "gender",
)

_RULES: Final[tuple[tuple[str, str], ...]] = (
    ("Electrodiagnostics", r"\b(emg|ncv|ncs|electromyograph\w*|nerve conduction|electrodiagnostic\w*)\b"),
    (
        "Imaging",
        r"\b(mri|mra|ct scan|ct of|cat scan|x-?rays?|radiograph\w*|ultrasound of|bone scan|imaging|"
        r"arthrogram|myelogram|scan)\b",
    ),
    (
        "Topical analgesic",
        r"\b(topical|cream|gel|patch(es)?|lidoderm|lidocaine|ointment|compound\w*|"
        r"terocin|flurbiprofen|capsaicin|menthoderm|voltaren gel)\b",
    ),
    (
        "Opioid",
        r"\b(norco|hydrocodone|oxycodone|oxycontin|percocet|tramadol|ultram|morphine|ms contin|"
        r"fentanyl|methadone|hydromorphone|dilaudid|tapentadol|nucynta|buprenorphine|codeine|tylenol #?3|"
        r"butrans|opioid\w*|vicodin|oxymorphone|opana)\b",
    ),
    (
        "Muscle relaxant",
        r"\b(cyclobenzaprine|flexeril|baclofen|tizanidine|zanaflex|norflex|orphenadrine|"
        r"carisoprodol|soma|methocarbamol|robaxin|metaxalone|skelaxin|muscle relaxant\w*)\b",
    ),
    (
        "NSAID",
        r"\b(nsaids?|naproxen|anaprox|ibuprofen|motrin|diclofenac|meloxicam|mobic|celecoxib|celebrex|"
        r"etodolac|nabumetone|relafen|ketorolac|toradol|indomethacin)\b",
    ),
    (
        "Gastro-protective",
        r"\b(omeprazole|prilosec|pantoprazole|protonix|ranitidine|zantac|pepcid|famotidine|"
        r"esomeprazole|nexium|lansoprazole|ppi|ondansetron|zofran|docusate|colace|senna|laxative)\b",
    ),
    (
        "Neuropathic / psychotropic medication",
        r"\b(gabapentin|neurontin|pregabalin|lyrica|duloxetine|cymbalta|"
        r"amitriptyline|nortriptyline|trazodone|zolpidem|ambien|sertraline|zoloft|bupropion|venlafaxine|"
        r"topiramate|clonazepam|alprazolam|xanax|lorazepam|diazepam|valium|temazepam|sumatriptan)\b",
    ),
    (
        "Injection / procedure",
        r"\b(injections?|epidural|esi|facet|block|radiofrequency|ablation|rhizotomy|"
        r"trigger point|botox|prp|platelet|viscosupplement\w*|synvisc|cortisone|steroid injection|"
        r"spinal cord stimulator|stimulator trial|medial branch)\b",
    ),
    (
        "Surgery",
        r"\b(surgery|surgical|arthroscop\w*|repair|fusion|\w+ectomy|\w+plasty|\w+otomy|release|"
        r"decompression|replacement|reconstruction|debridement|discectomy|laminectomy|assistant surgeon|"
        r"pre-?operative|post-?operative|anesthesia)\b",
    ),
    ("Chiropractic / manipulation", r"\b(chiro\w*|manipulation|manual therapy|mobilization)\b"),
    (
        "Physical modalities",
        r"\b(electrical (muscle )?stimulation|e-?stim|ultrasound|shock ?wave|eswt|infrared|"
        r"traction|spinolator|heat|ice|modalit\w*|neurostimulation|paraffin|diathermy)\b",
    ),
    ("Acupuncture", r"\b(acupuncture|electroacupuncture)\b"),
    (
        "Physical / occupational therapy",
        r"\b(physical therapy|pt|physiotherapy|occupational therapy|ot|"
        r"aquatic therapy|pool therapy|therapeutic exercise|work hardening|work conditioning|massage|"
        r"rehabilitation|rehab|home exercise)\b",
    ),
    (
        "Functional restoration / programs",
        r"\b(functional restoration|frp|multidisciplinary|pain program|"
        r"detox\w*|weight loss|gym membership|pool membership|home health|nursing|custodial)\b",
    ),
    (
        "Psychological care",
        r"\b(psycholog\w*|psychiatr\w*|psychotherapy|cognitive behavio\w*|cbt|biofeedback|"
        r"hypnotherapy|counsel\w*)\b",
    ),
    (
        "DME / supplies",
        r"\b(tens|interferential|h-?wave|brace|orthotic\w*|orthosis|splint|cane|walker|"
        r"wheelchair|cold therapy|hot/cold|cryotherapy|unit|pillow|mattress|cushion|durable medical|dme|"
        r"supplies|electrodes|lumbar support|back support|collar|shoe\w*|insoles?|compression|commode|"
        r"chair|gloves|wipes|workstation|hearing aids?|scooter|crutch\w*|bed|transportation)\b",
    ),
    (
        "Laboratory / testing",
        r"\b(clearance|pre-?op|urinalysis|eeg|electroencephalogram|ssep|ekg|ecg|"
        r"urine drug|drug screen\w*|toxicology|lab\w*|blood test\w*|panel|cbc|"
        r"genetic|testing|test)\b",
    ),
    (
        "Consultation / visits",
        r"\b(consult\w*|office visits?|follow-?up|evaluation|referral|visit\w*|"
        r"second opinion|specialist|exam)\b",
    ),
    (
        "Other medication",
        r"(\b\d+\s?(mg|mcg|ml|%)\b|#\s?\d+|\b(tablets?|capsules?|tabs?|caps?|medications?|"
        r"refills?|dosage|unknown quantity|quantity)\b)",
    ),
)
_COMPILED: Final = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in _RULES)
CATEGORIES: Final[tuple[str, ...]] = (*(name for name, _ in _RULES), OTHER)


def categorize(item_text: str) -> str:
    """The treatment category of a disputed item, or ``Other`` when no rule matches."""
    for name, pattern in _COMPILED:
        if pattern.search(item_text):
            return name
    return OTHER
