"""Health-plan (DMHC) categories from a request's words, for a request that names none.

The DMHC models read categories only (treatment and diagnosis category and subcategory, review type, age range,
gender, year; ``experiments/dmhc.yaml``): a request that gives none was scored as an unknown category whatever its
text said. :func:`map_categories` reads the item text first, then the summary, through an ordered table of
patterns; the first matching rule gives the category (and, where the words are specific enough, the subcategory),
spelled exactly as the DMHC trend export 2001-2016 spells it, because those are the names the models were trained
on. ICD-10 codes in the text ("ICD-10 M54.5", as ``features.structured`` renders them) give the diagnosis chapter.

``CURRENT_NAMES`` maps the current export's short names ("Diag Imag & Screen") to the trend names, to compare the
mapper with the current export's rows (``tests/data/test_dmhc_mapper_real.py`` measures it on the eval sample).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

Rule = tuple[str, str, str | None]  # (pattern, category, subcategory)

_PHARMACY: Final = "Pharmacy/Prescription Drugs"
_IMAGING: Final = "Diagnostic Imaging, Screening and Testing"
_MENTAL_TX: Final = "Mental Health Treatment"
_REHAB: Final = "Rehabilitation Services - Outpatient"
_DME: Final = "Durable Medical Equipment"
_EVAL: Final = "Diagnostic/Physician Evaluation"
_ORTHO_TX: Final = "Orthopedic"
_ORTHO: Final = "Orthopedic/ Musculoskeletal"

# Most specific first: a device before the drug it delivers, an ablation before the vein it treats.
TREATMENT_RULES: Final[tuple[Rule, ...]] = (
    (r"insulin pump", _DME, "Insulin Pump"),
    (r"botox|onabotulinum|botulinum", _PHARMACY, "Botox Injection"),
    (r"proton beam", "Cancer Treatment", "Proton Beam Therapy"),
    (r"chemotherapy|chemo\b", "Cancer Treatment", "Chemotherapy"),
    (r"radiation (?:therapy|oncology)|radiotherapy|imrt|stereotactic radio", "Cancer Treatment", "Radiation Oncology"),
    (r"clinical trial", "Cancer Treatment", None),
    (
        r"transcranial magnetic|\btms\b",
        "Electrical/ Thermal/ Radiofreq. Interventions",
        "Transcranial Magnetic Stimulation",
    ),
    (r"radio ?frequency ablation|\brfa\b", "Electrical/ Thermal/ Radiofreq. Interventions", "Radiofrequency Ablation"),
    (r"electroconvulsive|\bect\b", "Electrical/ Thermal/ Radiofreq. Interventions", "ECT - Electro-Convulsive Therapy"),
    (r"residential treatment|\brtc\b", _MENTAL_TX, "Residential Treatment Center - Admission"),
    (r"partial hospitali[sz]ation|\bphp\b", _MENTAL_TX, "Partial Hospitalization"),
    (
        r"(?:inpatient|acute) psychiatric|psychiatric (?:hospital|admission|facility)",
        _MENTAL_TX,
        "Acute Psychiatric Facility Admission",
    ),
    (
        r"(?:drug|substance|opioid) (?:rehab|treatment program|detox)|detoxification",
        _MENTAL_TX,
        "Drug Rehabilitation Program",
    ),
    (r"alcohol (?:rehab|treatment program)", _MENTAL_TX, "Alcohol Rehabilitation Program"),
    (r"intensive outpatient|\biop\b", _MENTAL_TX, None),
    (r"psychotherapy|counsel+ing|cognitive behavio", _MENTAL_TX, "Psychotherapy"),
    (r"applied behavio(?:u)?ral analysis|\baba\b", "Autism Related Treatment", "ABA-Applied Behavioral Analysis"),
    (
        r"skilled nursing facility|\bsnf\b",
        "Rehabilitation Services - Skilled Nursing Facility - Inpatient",
        "Inpatient Admission",
    ),
    (r"speech therapy|speech[- ]language", _REHAB, "Speech Therapy"),
    (r"occupational therapy", _REHAB, "Occupational Therapy"),
    (r"physical therapy|physiotherapy", _REHAB, "Physical Therapy"),
    (r"acupuncture", "Alternative Treatment", "Acupuncture"),
    (r"biofeedback", "Alternative Treatment", "Biofeedback"),
    (r"chiropract|spinal manipulation", "Chiropractic", None),
    (r"\bmri\b|magnetic resonance", _IMAGING, "MRI"),
    (r"\bpet\b(?: scan|/ct)?|positron emission", _IMAGING, "PET Scan"),
    (r"\bct\b(?: scan)?|computed tomography|\bcat scan", _IMAGING, "CT Scan"),
    (r"mammogra|breast tomosynthesis", _IMAGING, "Mammography"),
    (r"bone density|\bdexa\b|\bdxa\b", _IMAGING, "Bone Density Scan"),
    (r"x-?ray|radiograph", _IMAGING, "X-Ray"),
    (r"ultrasound|sonogra|echocardiogra", _IMAGING, "Ultrasound"),
    (r"sleep study|polysomnogra", "Special Procedure", "Sleep Studies"),
    (
        r"genetic test|gene panel|genomic|lab(?:oratory)? (?:test|work)|blood test|\bassay\b|biomarker",
        _IMAGING,
        "Lab Work",
    ),
    (r"wheelchair|scooter", _DME, None),
    (r"\bc-?pap\b|bipap", _DME, "C-Pap Machine"),
    (r"continuous passive motion|\bcpm\b", _DME, "CPM Machine"),
    (r"\bbrace\b|orthosis|orthotic", _DME, None),
    (r"compression (?:garment|system|pump|device)|hospital bed|walker|durable medical|\bdme\b|prosthe", _DME, None),
    (r"gastric bypass|roux-en-y", "General Surgery", "Gastric Bypass"),
    (r"lap(?:aroscopic)? band", "General Surgery", "Bariatric Lap Band"),
    (r"bariatric|sleeve gastrectomy", "General Surgery", "Bariatric Surgery"),
    (r"hernia", "General Surgery", "Hernia Repair"),
    (
        r"breast reduction|reduction mammaplasty|reduction mammoplasty",
        "Reconstructive/Plastic Surgery",
        "Breast Reduction",
    ),
    (r"panniculectomy", "Reconstructive/Plastic Surgery", "Panniculectomy"),
    (r"blepharoplasty", "Reconstructive/Plastic Surgery", "Blepharoplasty"),
    (
        r"liposuction|abdominoplasty|breast augmentation|reconstructive|plastic surgery|rhinoplasty",
        "Reconstructive/Plastic Surgery",
        None,
    ),
    (r"artificial dis[ck]|dis[ck] replacement|dis[ck] arthroplasty", _ORTHO_TX, "Artificial Disk Replacement"),
    (r"(?:spinal )?fusion|arthrodesis", _ORTHO_TX, "Fusion"),
    (r"hip (?:replacement|arthroplasty)", _ORTHO_TX, "Hip Replacement"),
    (r"knee (?:replacement|arthroplasty)", _ORTHO_TX, "Knee Replacement"),
    (r"arthroscop|meniscectomy|chondroplasty", _ORTHO_TX, "Arthroscopy"),
    (r"dis[ck]ectomy", _ORTHO_TX, "Diskectomy"),
    (r"laminectomy", _ORTHO_TX, "Laminectomy"),
    (r"craniotomy|cranioplasty|deep brain stimulat", "Neurosugery", None),
    (r"epidural|\besi\b", "Pain Management", "Epidural Injection"),
    (r"nerve block|facet (?:block|injection)", "Pain Management", "Nerve Block"),
    (r"steroid injection|trigger point|cortisone injection", "Pain Management", "Steroid Injection"),
    (r"pain (?:management )?program|functional restoration", "Pain Management", "Pain Management Program"),
    (r"hysterectomy", "OB/GYN Procedures", "Hysterectomy"),
    (r"uterine artery embolization", "OB/GYN Procedures", "Uterine Artery Embolization"),
    (r"myomectomy|fibroid removal", "OB/GYN Procedures", "Fibroid Removal"),
    (r"in vitro|\bivf\b|fertility treatment", "OB/GYN Procedures", "Artificial Reproduction Technique"),
    (r"septoplasty", "Ear, Nose and Throat Procedures", "Septoplasty"),
    (r"sinus surgery|sinuplasty", "Ear, Nose and Throat Procedures", "Sinus Surgery"),
    (r"tonsillectomy", "Ear, Nose and Throat Procedures", "Tonsillectomy"),
    (r"cochlear implant", "Ear, Nose and Throat Procedures", "Cochlear Implant"),
    (r"hearing aid", _DME, None),
    (r"vein (?:stripping|ablation)|varicose|sclerotherapy|venous closure", "Cardio Vascular", "Vein Stripping"),
    (r"pacemaker|defibrillator", "Cardio Vascular", "Pacemaker Insertion"),
    (r"valve replacement|cardiac (?:surgery|procedure)|bypass graft|\bcabg\b", "Cardio Vascular", None),
    (r"hyperbaric", "Special Procedure", "Hyperbaric Oxygen Chamber"),
    (r"stem cell|bone marrow transplant", "Special Procedure", "Stem Cell Transplant"),
    (r"(?:organ|liver|kidney|lung|heart) transplant", "Special Procedure", "Organ Transplant"),
    (r"general anesthesia", "Special Procedure", "General Anesthesia"),
    (r"emergency room|emergency department|\ber visit", "Emergency/Urgent Care", "Emergency Room"),
    (r"urgent care", "Emergency/Urgent Care", "Urgent Care"),
    (r"ambulance", "Emergency/Urgent Care", "Ambulance/Transport"),
    (r"home health|skilled nursing visit|home nursing", "Home Health Care", "Skilled Nursing Visits"),
    (
        r"(?:inpatient|hospital) (?:admission|stay)|hospitali[sz]ation",
        "Acute Medical Services - Inpatient",
        "Admission",
    ),
    (
        r"out[- ]of[- ]network|\boon\b|second opinion|tertiary|academic (?:medical )?center",
        _EVAL,
        "Out-Of-Network Referral",
    ),
    (r"referral|consultation|specialist (?:visit|evaluation)", _EVAL, "Specialty Consultation Referral"),
    (r"dental|orthodont|tooth|teeth|\btmj\b", "Dental/Orthodontic", None),
    (r"cataract", "Ophthalmology", "Cataract Surgery"),
    (r"vision therapy|contact lens|eyeglass", "Vision", None),
    (r"prostatectomy|vasectomy|urolog", "Urology", None),
    (r"immunization|vaccin", "Preventive Health Screening", None),
    (r"\bivig\b|immune globulin", _PHARMACY, "IVIG Therapy"),
    (r"harvoni|sovaldi|epclusa|mavyret|sofosbuvir|ledipasvir|antiviral|anti-viral", _PHARMACY, "Anti-virals"),
    (
        r"growth hormone|somatropin|omnitrope|genotropin|norditropin|testosterone|estrogen|hormone",
        _PHARMACY,
        "Hormones",
    ),
    (r"antibiotic|amoxicillin|doxycycline|ceftriaxone", _PHARMACY, "Antibiotics"),
    (r"humira|adalimumab|enbrel|etanercept|xeljanz|tofacitinib|methotrexate", _PHARMACY, "Arthritis Medications"),
    (r"oxycodone|hydrocodone|norco|tramadol|morphine|opioid|analgesic|fentanyl", _PHARMACY, "Analgesics"),
    (r"off[- ]label|not fda approved|non-fda", _PHARMACY, "Non-FDA Approved Use"),
    (r"non-?formulary|formulary exception", _PHARMACY, "Formulary versus Non-Formulary"),
    (
        r"\b(?:tablets?|capsules?|pen-?injector|injectable|infusion|prescription|medication|drug)\b|\d+ ?mg\b|"
        r"ozempic|wegovy|semaglutide|rybelsus|mounjaro|tirzepatide|cosentyx|stelara|dupixent|biologic",
        _PHARMACY,
        None,
    ),
)

_MENTAL: Final = "Mental"
_CNS: Final = "Central Nervous System/ Neuromuscular"
_ENDO: Final = "Endocrine/ Metabolic"
_DIGEST: Final = "Digestive System/ Gastrointestinal"
_OBGYN: Final = "OB-Gyn/ Pregnancy"
_CARDIAC: Final = "Cardiac/Circulatory"

DIAGNOSIS_RULES: Final[tuple[Rule, ...]] = (
    (r"autis|asperger|pervasive developmental|\bpdd\b", "Autism Spectrum", "Autism-PDD-NOS"),
    (r"hepatitis|\bhcv\b", "Infectious", "Hepatitis"),
    (r"\bhiv\b|\baids\b", "Infectious", "AIDS/HIV"),
    (r"lyme", "Infectious", "Lyme Disease"),
    (r"breast cancer|breast carcinoma", "Cancer", "Breast Cancer"),
    (r"prostate cancer", "Cancer", "Prostate Cancer"),
    (r"lung cancer", "Cancer", "Lung Cancer"),
    (r"cancer|carcinoma|lymphoma|myeloma|melanoma|malignan|metasta|oncolog|sarcoma|tumou?r", "Cancer", None),
    (r"leukemia|anemia|thrombocytopenia|sickle cell|hemophilia", "Blood Related", None),
    (r"eating disorder|anorexia|bulimia", _MENTAL, "Eating Disorder"),
    (r"bipolar", _MENTAL, "Bipolar Disorder"),
    (r"alcohol (?:use|abuse|dependence)|alcoholism", _MENTAL, "Alcohol Abuse/ Addiction"),
    (r"substance (?:use|abuse)|opioid (?:use|dependence)|addiction|\basam\b", _MENTAL, "Substance Abuse/ Addiction"),
    (r"depressi", _MENTAL, "Depression"),
    (r"\badhd\b|attention deficit", _MENTAL, "ADHD - Attention Deficit Hyperactivity Disorder"),
    (r"anxiety|\bptsd\b|obsessive|schizo|psychos|psychiatric|mental", _MENTAL, None),
    (r"diabet|a1c|glycemic", _ENDO, "Diabetes"),
    (r"growth hormone deficiency|short stature", _ENDO, "Growth Hormone Deficiency"),
    (r"thyroid", _ENDO, "Thyroid Problems"),
    (r"obesity|\bbmi\b|body mass index|bariatric|weight (?:loss|management|control)", "Morbid Obesity", None),
    # A drug or procedure that implies its diagnosis, read after the diagnoses themselves.
    (r"omnitrope|genotropin|norditropin|somatropin|growth hormone", _ENDO, "Growth Hormone Deficiency"),
    (r"insulin|metformin|rybelsus|ozempic|semaglutide|mounjaro|tirzepatide|glp-1", _ENDO, "Diabetes"),
    (
        r"dis[ck]ectomy|dis[ck] replacement|spinal fusion|laminectomy|arthroscop|meniscectomy|joint replacement",
        _ORTHO,
        None,
    ),
    (r"multiple sclerosis", _CNS, "Multiple Sclerosis"),
    (r"migraine|headache", _CNS, "Headache/Migraine"),
    (r"epilep|seizure", _CNS, "Epilepsy"),
    (r"cerebral palsy", _CNS, "Cerebral Palsy"),
    (r"parkinson", _CNS, "Parkinson Disease"),
    (r"stroke|\bcva\b", _CARDIAC, "Stroke/ CVA"),
    (r"neuropath|paralysis|neurolog|dementia|alzheimer|\bals\b", _CNS, None),
    (r"rheumatoid", "Immunologic", "Rheumatoid Arthritis"),
    (r"lupus", "Immunologic", "Lupus"),
    (r"fibromyalgia", "Immunologic", "Fibromyalgia"),
    (r"psoria", "Skin", "Psoriasis"),
    (r"crohn", _DIGEST, "Crohn's Disease"),
    (r"ulcerative colitis", _DIGEST, "Ulcerative Colitis"),
    (r"reflux|\bgerd\b", _DIGEST, "GERDs/ Reflux Disorders"),
    (r"irritable bowel|\bibs\b", _DIGEST, "Irritable Bowel Syndrome"),
    (r"sleep apnea|\bosa\b", "Respiratory System", "Sleep Apnea"),
    (r"asthma", "Respiratory System", "Asthma"),
    (r"\bcopd\b|emphysema|pulmonary|respiratory", "Respiratory System", None),
    (r"pregnan|childbirth|birth|obstetric|prenatal", _OBGYN, "Pregnancy"),
    (r"fibroid", _OBGYN, "Fibroids"),
    (r"endometriosis", _OBGYN, "Endometriosis"),
    (r"menopaus", _OBGYN, "Menopause"),
    (r"infertil", _OBGYN, "Infertility"),
    (r"breast", _OBGYN, "Female Breast Disorder"),
    (r"hearing", "Ears, Nose, Throat", "Hearing Problem"),
    (r"sinusitis|sinus", "Ears, Nose, Throat", "Sinusitis - Sinus Infections"),
    (r"tonsil|septal|nasal", "Ears, Nose, Throat", None),
    (r"varicose|venous insufficiency|saphenous", _CARDIAC, "Varicose Veins"),
    (r"hypertension", _CARDIAC, "Hypertension"),
    (r"lymphedema", _CARDIAC, "Lymphedema"),
    (r"coronary|cardiac|heart|cardiomyopathy|arrhythm|atrial", _CARDIAC, None),
    (
        r"dis[ck] (?:herniation|disease|degeneration|problem)|herniat|radiculopathy|spinal stenosis|vertebral dis",
        _ORTHO,
        "Vertebral Disc Problem",
    ),
    (r"osteoarthritis|degenerative joint", _ORTHO, "Osteoarthritis"),
    (r"osteoporosis", _ORTHO, "Osteoporosis"),
    (r"fracture", _ORTHO, "Fracture"),
    (r"knee", _ORTHO, "Knee Problem"),
    (r"neck|cervical spine", _ORTHO, "Neck Problem"),
    (r"back pain|lumbar|low back|\bspine\b|spinal", _ORTHO, "Back Pain"),
    (r"shoulder|hip\b|joint|arthritis|tendon|ligament|musculoskeletal|orthopedic", _ORTHO, None),
    (r"erectile|incontinence|kidney|renal|urinary|bladder", "Genitourinary/ Kidney", None),
    (r"cataract", "Vision", "Cataracts"),
    (r"glaucoma", "Vision", "Glaucoma"),
    (r"\beye|vision|retin|macular", "Vision", None),
    (r"delayed speech|speech delay|developmental delay", "Pediatrics", "Delayed Speech"),
    (r"acne|eczema|dermatitis|pyoderma|\bskin\b|wound|ulcer", "Skin", None),
    (r"plantar fasciitis|bunion|\bfoot\b|heel", "Foot", None),
    (r"dental|tooth|teeth|gum disease", "Dental", None),
)

#: ICD-10-CM chapter (first letter, or letter and first digit) to the DMHC diagnosis category closest to it.
_ICD10_CHAPTERS: Final[tuple[tuple[str, str], ...]] = (
    ("C", "Cancer"),
    ("D0", "Cancer"),
    ("D1", "Cancer"),
    ("D2", "Cancer"),
    ("D3", "Cancer"),
    ("D4", "Cancer"),
    ("D", "Blood Related"),
    ("A", "Infectious"),
    ("B", "Infectious"),
    ("E", _ENDO),
    ("F84", "Autism Spectrum"),
    ("F", _MENTAL),
    ("G", _CNS),
    ("H6", "Ears, Nose, Throat"),
    ("H7", "Ears, Nose, Throat"),
    ("H9", "Ears, Nose, Throat"),
    ("H", "Vision"),
    ("I", _CARDIAC),
    ("J", "Respiratory System"),
    ("K0", "Dental"),
    ("K", _DIGEST),
    ("L", "Skin"),
    ("M", _ORTHO),
    ("N", "Genitourinary/ Kidney"),
    ("O", _OBGYN),
    ("Q", "Genetic"),
    ("S", "Trauma/Injuries"),
    ("T", "Trauma/Injuries"),
)
_ICD10_IN_TEXT: Final = re.compile(r"\bICD-10\s+([A-Z]\d[A-Z0-9](?:\.[A-Z0-9]{1,4})?)", re.IGNORECASE)

#: The current export's short names -> the trend export's names (the ones the models were trained on).
CURRENT_NAMES: Final[dict[str, str]] = {
    "Mental Health": _MENTAL_TX,
    "Pharmacy": _PHARMACY,
    "Rehab/ Svc - Outpt": _REHAB,
    "Diag Imag & Screen": _IMAGING,
    "Ob-Gyn Proc": "OB/GYN Procedures",
    "DME": _DME,
    "DME MACs": _DME,
    "Diag/ MD Eval": _EVAL,
    "Orthopedic Proc": _ORTHO_TX,
    "Elect/Therm/Radfreq": "Electrical/ Thermal/ Radiofreq. Interventions",
    "Mental Disorder": _MENTAL,
    "Endocrine/Metabolic": _ENDO,
    "Orth/Musculoskeletal": _ORTHO,
    "Musculoskeletal": _ORTHO,
    "Digestive System/ GI": _DIGEST,
    "GU/ Kidney Disorder": "Genitourinary/ Kidney",
    "Skin Subcutaneous": "Skin",
    "Skin Disorders": "Skin",
    "Pregnancy/Childbirth": _OBGYN,
    "Post Surgical Comp": "Post Surgical Complication",
    "Ears/Nose/Throat": "Ears, Nose, Throat",
    "Cardiac/Circ Problem": _CARDIAC,
}


def trend_name(category: str) -> str:
    """A category in the trend export's spelling (current export short names are translated)."""
    return CURRENT_NAMES.get(category.strip(), category.strip())


#: The category choices an office picks from (the page's lists): every category of the trend export but "Not
#: Applicable", spelled as there (a test compares them with the data).
TREATMENT_CATEGORIES: Final[tuple[str, ...]] = (
    "Acute Medical Services - Inpatient",
    "Acute Medical Services - Outpatient",
    "Alternative Treatment",
    "Autism Related Treatment",
    "Cancer Treatment",
    "Cardio Vascular",
    "Chiropractic",
    "Dental/Orthodontic",
    _IMAGING,
    _EVAL,
    _DME,
    "Ear, Nose and Throat Procedures",
    "Electrical/ Thermal/ Radiofreq. Interventions",
    "Emergency/Urgent Care",
    "General Surgery",
    "Home Health Care",
    _MENTAL_TX,
    "Neurosugery",
    "OB/GYN Procedures",
    "Ophthalmology",
    _ORTHO_TX,
    "Pain Management",
    _PHARMACY,
    "Preventive Health Screening",
    "Reconstructive/Plastic Surgery",
    _REHAB,
    "Rehabilitation Services - Skilled Nursing Facility - Inpatient",
    "Special Procedure",
    "Urology",
    "Vision",
)
DIAGNOSIS_CATEGORIES: Final[tuple[str, ...]] = (
    "Alcohol and Drug Addiction",
    "Autism Spectrum",
    "Blood Related",
    "Cancer",
    _CARDIAC,
    _CNS,
    "Chronic Pain",
    "Dental",
    _DIGEST,
    "Ears, Nose, Throat",
    _ENDO,
    "Foot",
    "Genetic",
    "Genitourinary/ Kidney",
    "Immunologic",
    "Infectious",
    _MENTAL,
    "Morbid Obesity",
    _OBGYN,
    "Organ Failure",
    _ORTHO,
    "Pediatrics",
    "Post Surgical Complication",
    "Prevention/Good Health",
    "Respiratory System",
    "Skin",
    "Trauma/Injuries",
    "Vision",
)
AGE_RANGES: Final[tuple[str, ...]] = ("0-10", "11_20", "21-30", "31-40", "41-50", "51-64", "65+")
GENDERS: Final[tuple[str, ...]] = ("Female", "Male")
IMR_TYPES: Final[tuple[str, ...]] = ("Standard", "Expedited")


def choices() -> dict[str, list[str]]:
    """What the page offers for a health-plan request: the fields the DMHC models read, with their values."""
    return {
        "treatment_category": list(TREATMENT_CATEGORIES),
        "diagnosis_category": list(DIAGNOSIS_CATEGORIES),
        "age_range": list(AGE_RANGES),
        "gender": list(GENDERS),
        "imr_type": list(IMR_TYPES),
    }


@dataclass(frozen=True)
class Mapped:
    """The categories a request's words give (None where no rule matched)."""

    treatment_category: str | None
    treatment_subcategory: str | None
    diagnosis_category: str | None
    diagnosis_subcategory: str | None


def _compile(rules: tuple[Rule, ...]) -> tuple[tuple[re.Pattern[str], str, str | None], ...]:
    return tuple((re.compile(rf"\b(?:{p})", re.IGNORECASE), c, s) for p, c, s in rules)


_TREATMENT: Final = _compile(TREATMENT_RULES)
_DIAGNOSIS: Final = _compile(DIAGNOSIS_RULES)


def _first(
    rules: tuple[tuple[re.Pattern[str], str, str | None], ...], texts: tuple[str, ...]
) -> tuple[str, str | None] | None:
    for text in texts:
        for pattern, category, subcategory in rules:
            if pattern.search(text):
                return category, subcategory
    return None


def _icd10_category(text: str) -> str | None:
    for code in _ICD10_IN_TEXT.findall(text):
        code = code.upper()
        for prefix, category in _ICD10_CHAPTERS:
            if code.startswith(prefix):
                return category
    return None


def map_categories(item_text: str, summary: str = "") -> Mapped:
    """The DMHC treatment and diagnosis categories of a request, from its item text first, then its summary.

    Bounded work: the texts are cut to 20,000 characters each (the patterns are plain alternations).
    """
    texts = (item_text[:20_000], summary[:20_000])
    treatment = _first(_TREATMENT, texts)
    # A coded diagnosis names the chapter; the words may add the subcategory when they agree with it.
    coded = _icd10_category(texts[0]) or _icd10_category(texts[1])
    diagnosis = _first(_DIAGNOSIS, (texts[1], texts[0]))
    if coded and (diagnosis is None or diagnosis[0] != coded):
        diagnosis = (coded, None)
    return Mapped(
        treatment[0] if treatment else None,
        treatment[1] if treatment else None,
        diagnosis[0] if diagnosis else None,
        diagnosis[1] if diagnosis else None,
    )
