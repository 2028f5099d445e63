"""RequestServerVersion values and what each version brings (MS-OXWS* "introduced in")."""
VERSIONS = ["Exchange2007", "Exchange2007_SP1", "Exchange2010", "Exchange2010_SP1", "Exchange2010_SP2",
            "Exchange2013", "Exchange2013_SP1"]
RANK = {v: i for i, v in enumerate(VERSIONS)}

# What the fake reports in ServerVersionInfo for each configured server version.
BUILDS = {
    "Exchange2007_SP1": (8, 3, 83, 6),
    "Exchange2010": (14, 0, 639, 21),
    "Exchange2010_SP1": (14, 1, 218, 15),
    "Exchange2010_SP2": (14, 3, 123, 4),  # 2010 SP3 still speaks the SP2 schema
    "Exchange2013": (15, 0, 516, 32),
    "Exchange2013_SP1": (15, 1, 2507, 6),  # 2016/2019/SE speak the 2013 SP1 schema
}


def at_least(version, minimum):
    return RANK[version] >= RANK[minimum]
