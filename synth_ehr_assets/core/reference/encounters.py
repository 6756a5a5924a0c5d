"""Encounter reasons: preventive and acute visits, hospital admissions with MS-DRG, pregnancy and birth codes.

Weights are relative visit rates for children (0-17), adults (18-64) and seniors (65+), shaped after NAMCS /
NHAMCS (ambulatory and emergency department visit reasons) and HCUP NIS (most frequent inpatient principal
diagnoses). MS-DRGs follow the FY2026 grouper families (with MCC / with CC / without CC-MCC); the generator
picks the severity from the patient's chronic burden, a stand-in for the grouper's CC/MCC logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SETTINGS = ("office", "ed", "outpatient")  # office → professional claim; ed / outpatient → outpatient claim
EVALUATIONS = ("office", "preventive", "ed", "none")


@dataclass(frozen=True)
class Visit:
    code: str
    weights: tuple[float, float, float]
    setting: str = "office"
    evaluation: str = "office"
    px: tuple[tuple[str, float], ...] = ()
    min_age: int = 0
    max_age: int = 124
    sex: str | None = None
    female_mult: float = 1.0
    acuity: float = 0.0
    extra_dx: tuple[tuple[str, float], ...] = ()
    specialty: str | None = None  # None: the patient's primary care specialty
    season: str | None = None  # a `calendar.SEASONS` name: the visit's rate follows that season by month


@dataclass(frozen=True)
class Admission:
    code: str | None  # None: the patient's code for the first required condition, through `code_map`
    drg: tuple[str, str, str]  # with MCC, with CC, without CC/MCC
    weights: tuple[float, float, float]
    alos: float
    charge: float  # median charge without CC/MCC
    pcs: tuple[tuple[str, float], ...] = ()
    requires: tuple[str, ...] = ()  # any of these conditions
    replaces: bool = False  # the principal replaces the required condition's own code in the secondaries
    code_map: dict[str, str] = field(default_factory=dict)
    multipliers: tuple[tuple[str, float], ...] = ()
    min_age: int = 0
    max_age: int = 124
    female_mult: float = 1.0
    extra_dx: tuple[tuple[str, float], ...] = ()
    season: str | None = None


FALL = (("W19XXXA", .7),)
PREVENTIVE: tuple[Visit, ...] = (
    # well-child visits; their vaccines follow the CDC schedule by age (`vaccines.py`)
    Visit("Z00129", (10, 0, 0), evaluation="preventive", max_age=6, specialty="pediatrics"),
    Visit("Z00129", (6, 0, 0), evaluation="preventive", min_age=7, max_age=17, px=(("96127", .5),),
          specialty="pediatrics"),
    Visit("Z0000", (0, 5, 6), evaluation="preventive", min_age=18,
          px=(("36415", .6), ("80053", .4), ("80061", .4), ("85025", .3))),
    # influenza vaccination; the generator sets the season's product and Medicare's G0008 administration
    Visit("Z23", (2, 1.5, 3), min_age=1, evaluation="none", px=(("90471", 1), ("90686", 1)), season="flu_vaccine"),
    Visit("Z1211", (0, 1.2, 1.2), setting="outpatient", evaluation="none", min_age=45, max_age=75,
          px=(("45378", 1),), specialty="gastroenterology"),
    Visit("Z1211", (0, .6, .6), setting="outpatient", evaluation="none", min_age=45, max_age=75,
          px=(("45380", 1),), specialty="gastroenterology"),
    Visit("Z1231", (0, 2.5, 2.5), setting="outpatient", evaluation="none", sex="F", min_age=40, max_age=74,
          px=(("77067", 1),), specialty="radiology"),
    # well-woman visit with cervical screening: preventive E/M, gynecological exam first, the screening after it
    Visit("Z01419", (0, 2, 0), sex="F", min_age=21, max_age=64, evaluation="preventive", px=(("88175", 1),),
          extra_dx=(("Z124", 1),), specialty="obstetrics_gynecology"),
    # screening-only encounters: the screening service without an E/M (a Z13 code alone supports no E/M)
    Visit("Z13220", (0, 1, 1), min_age=20, evaluation="none", px=(("36415", 1), ("80061", 1))),
    Visit("Z131", (0, .8, .8), min_age=35, evaluation="none", px=(("36415", 1), ("83036", 1))),
    Visit("Z1331", (.4, .6, .4), min_age=12, evaluation="none", px=(("96127", 1),)),
)
ACUTE: tuple[Visit, ...] = (
    Visit("J069", (10, 5, 3)),
    Visit("J029", (6, 2.5, .8), px=(("87880", .7),)),
    Visit("H6690", (7, .8, .3), specialty="pediatrics", max_age=17),
    Visit("H6690", (0, .8, .3), min_age=18),
    Visit("J209", (2, 2.5, 2.5), px=(("71046", .3),), acuity=.3),
    Visit("J0190", (1.5, 3, 2)),
    Visit("J111", (2, 1.5, 1.5), px=(("87804", .6),), acuity=.3, season="influenza"),
    Visit("J210", (2.5, 0, 0), max_age=1, px=(("87807", .5),), acuity=.3, specialty="pediatrics", season="rsv"),
    Visit("U071", (1, 1.5, 2), px=(("87635", .8),), acuity=.4),
    Visit("A09", (2.5, 1.5, 1)),
    Visit("N390", (.6, 1, 2), female_mult=4, px=(("81003", .8), ("87086", .5))),
    Visit("H1030", (2, .6, .4)),
    Visit("L309", (1.5, 1, 1)),
    Visit("R509", (2, .2, .2), max_age=17),
    Visit("B349", (2.5, .3, .2)),
    Visit("M5450", (.1, 3, 2.5), min_age=12, px=(("72100", .25),)),
    Visit("M5450", (0, .4, .4), setting="outpatient", evaluation="none", min_age=18, px=(("72148", 1),),
          specialty="radiology"),
    Visit("M25561", (.3, 1.5, 2), min_age=10, px=(("73562", .3),)),
    Visit("K5900", (1, .5, 1)),
    Visit("R42", (.1, .8, 2), px=(("93000", .3),), acuity=.4),
    Visit("S93401A", (.6, .5, .2), px=(("73610", .6),)),
    Visit("S93402A", (.6, .5, .2), px=(("73610", .6),)),
    Visit("L03115", (.2, .4, .6), acuity=.4),
    Visit("L03116", (.2, .4, .6), acuity=.4),
    Visit("J189", (.6, .6, 1.5), px=(("71046", .9),), acuity=.8),
    Visit("S61411A", (.6, .8, .3), setting="ed", evaluation="ed", px=(("12002", 1),), specialty="emergency_medicine"),
    Visit("S52501A", (.5, .4, .6), setting="ed", evaluation="ed", px=(("73110", 1), ("25600", .8)), acuity=.5,
          extra_dx=FALL, specialty="emergency_medicine"),
    Visit("S0990XA", (.5, .4, .6), setting="ed", evaluation="ed", px=(("70450", .6),), acuity=.5, extra_dx=FALL,
          specialty="emergency_medicine"),
    Visit("R079", (.1, 1.2, 1.5), setting="ed", evaluation="ed", min_age=12, acuity=1.2,
          px=(("93000", 1), ("84484", .8), ("71046", .7), ("80053", .5)), specialty="emergency_medicine"),
    Visit("R109", (.8, 1.5, 1), setting="ed", evaluation="ed", acuity=1.0,
          px=(("74177", .5), ("80053", .6), ("85025", .6)), specialty="emergency_medicine"),
    Visit("R519", (.3, .8, .4), setting="ed", evaluation="ed", px=(("70450", .4),), acuity=.6,
          specialty="emergency_medicine"),
    Visit("R0602", (.2, .5, 1.5), setting="ed", evaluation="ed", px=(("71046", .8), ("93000", .6)), acuity=1.2,
          specialty="emergency_medicine"),
)
_SEVERE = (("ckd", 1.5), ("dementia", 1.5), ("heart_failure", 1.3))
ADMISSIONS: tuple[Admission, ...] = (
    Admission("A419", ("871", "872", "872"), (.5, 1, 3), 5.0, 35000, pcs=(("02HV33Z", .15), ("5A1935Z", .1)),
              multipliers=_SEVERE + (("diabetes_t2", 1.3),)),
    Admission("J189", ("193", "194", "195"), (1, 1, 3), 4.0, 22000, pcs=(("5A09357", .05),),
              multipliers=(("copd", 2), ("heart_failure", 1.5), ("dementia", 1.5))),
    Admission(None, ("291", "292", "293"), (3, 3, 3), 4.0, 28000, pcs=(("B246ZZZ", .3),), requires=("heart_failure",),
              replaces=True, code_map={"I5022": "I5023", "I5032": "I5033", "I509": "I509"}),
    Admission(None, ("190", "191", "192"), (0, 3, 3), 3.5, 20000, pcs=(("5A09357", .1),), requires=("copd",),
              replaces=True, code_map={"J449": "J441"}),
    Admission("I214", ("280", "281", "282"), (0, .6, 2), 4.0, 40000, pcs=(("4A023N7", .5), ("B2111ZZ", .5)),
              min_age=30, multipliers=(("ischemic_heart", 4), ("diabetes_t2", 1.5))),
    Admission("I639", ("064", "065", "066"), (0, .4, 2), 4.0, 38000, pcs=(("3E03317", .1), ("B030ZZZ", .4)),
              min_age=18, multipliers=(("stroke_history", 3), ("atrial_fibrillation", 3), ("hypertension", 1.5))),
    Admission(None, ("308", "309", "310"), (0, 2, 2), 3.0, 22000, pcs=(("4A02X4Z", .6),),
              requires=("atrial_fibrillation",), replaces=True),
    Admission("K922", ("377", "378", "379"), (.1, .5, 1.5), 3.5, 30000, pcs=(("0DJ08ZZ", .6), ("30233N1", .3))),
    Admission("N10", ("689", "690", "690"), (.5, .6, 1), 3.0, 18000, female_mult=3),
    Admission("L03115", ("602", "603", "603"), (.3, .6, 1), 3.5, 17000, multipliers=(("diabetes_t2", 2),)),
    Admission(None, ("637", "638", "639"), (3, 1.5, .5), 3.0, 25000, requires=("diabetes_t1", "diabetes_t2"),
              replaces=True, code_map={"E109": "E1010", "E119": "E1110", "E1165": "E1110", "E1140": "E1110",
                                       "E1122": "E1110"}),
    Admission("N179", ("682", "683", "684"), (.1, .3, 1.5), 4.0, 26000, pcs=(("5A1D70Z", .1),),
              multipliers=(("ckd", 3),)),
    Admission("S72001A", ("480", "481", "482"), (0, .05, 1.2), 5.0, 60000, pcs=(("0QS604Z", .9),), min_age=50,
              multipliers=(("osteoporosis", 3), ("dementia", 2)), extra_dx=(("W19XXXA", .9),)),
    Admission(None, ("469", "470", "470"), (0, .5, 1.5), 2.0, 65000, pcs=(("0SRC0J9", 1),), requires=("osteoarthritis",),
              replaces=True, min_age=45, code_map={"M170": "M170", "M1990": "M1711"}),
    Admission("K3580", ("341", "342", "343"), (1.2, .8, .2), 2.0, 30000, pcs=(("0DTJ4ZZ", 1),), min_age=2),
    Admission("K8000", ("417", "418", "419"), (.1, .8, .8), 2.5, 40000, pcs=(("0FT44ZZ", 1),), min_age=12, female_mult=2),
    Admission(None, ("885", "885", "885"), (.5, 1, .3), 7.0, 20000, pcs=(("GZ3ZZZZ", .5),), requires=("depression",),
              replaces=True, min_age=12, code_map={"F329": "F322", "F331": "F332"}),
    Admission(None, ("896", "897", "897"), (0, 3, 2), 4.0, 18000, pcs=(("HZ2ZZZZ", .8),),
              requires=("alcohol_dependence",), replaces=True, code_map={"F1020": "F10239"}),
    Admission("E860", ("640", "641", "641"), (1.5, .3, 1), 2.5, 12000),
    Admission(None, ("202", "203", "203"), (2, 1, .5), 2.5, 15000, pcs=(("5A09357", .05),), requires=("asthma",),
              replaces=True, code_map={"J4520": "J4521", "J45909": "J45901"}),
    Admission("J210", ("202", "203", "203"), (6, 0, 0), 2.5, 16000, max_age=1, season="rsv"),
    Admission("Z5111", ("846", "847", "848"), (3, 3, 3), 3.0, 35000, pcs=(("3E04305", .9),),
              requires=("breast_cancer", "prostate_cancer", "colorectal_cancer", "lung_cancer")),
    Admission("R55", ("312", "312", "312"), (.2, .3, 1), 2.0, 15000, pcs=(("4A02X4Z", .5),)),
    Admission(None, ("811", "812", "812"), (4, 4, 4), 4.0, 25000, requires=("sickle_cell",), replaces=True,
              code_map={"D571": "D5700"}),
    Admission(None, ("205", "206", "206"), (4, 4, 4), 6.0, 45000, requires=("cystic_fibrosis",), replaces=True),
)
SEVERITY_MULTIPLIER = (1.9, 1.3, 1.0)  # charge factor with MCC / with CC / without

# Pregnancy (females 15-49) and birth codes.
PRENATAL_FIRST = ("Z3401", "Z3402", "Z3403")  # supervision of normal first pregnancy, by trimester
PRENATAL_OTHER = ("Z3481", "Z3482", "Z3483")
PRENATAL_COMPLICATION = ("O24410", "O1403", "O210")  # gestational diabetes, pre-eclampsia (3rd trim.), hyperemesis
COMPLICATION_WEEKS = ((24, 42), (28, 42), (6, 13))  # gestational weeks in which each complication is coded
DELIVERY_COMPLICATION = ("O24420", "O1404", "O80")  # at delivery (hyperemesis has resolved: uncomplicated)
CESAREAN_INDICATIONS = ("O34211", "O321XX0", "O480")
WEEKS_CODES = {week: f"Z3A{week:02d}" for week in range(8, 43)} | {week: "Z3A01" for week in range(0, 8)}
PRENATAL_PX = (("76801", .25), ("76805", .35), ("81025", .1), ("36415", .3))
POSTPARTUM = "Z392"
DELIVERY = {"vaginal": ("10E0XZZ", ("806", "807"), 2.0, 14000), "cesarean": ("10D00Z1", ("787", "788"), 3.0, 24000)}
LIVE_BIRTH = "Z370"
NEWBORN = {"vaginal": "Z3800", "cesarean": "Z3801"}
NEWBORN_DRG = ("794", "795")  # with a significant problem (jaundice), normal newborn
NEWBORN_JAUNDICE = ("P599", .15)
NEWBORN_PCS = (("3E0234Z", .9),)
CIRCUMCISION = ("0VTTXZZ", .55)
NEWBORN_CHARGE, NEWBORN_LOS = 5500, 2.0
NEWBORN_WELL = ((7, "Z00110"), (28, "Z00111"))  # newborn checks by age in days
