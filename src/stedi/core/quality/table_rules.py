"""The rules that hold for each table: the one place they are declared.

Every table also gets the two common rules of `common_rules` (stedi.core.quality.rules_of):
its schema equals the declared one (stedi.core.tables, per policy) and it is not empty (an
error for a landing table, a warning downstream, where a tiny sample may leave a table empty).

Reading the list: `error` rules are the project's promises (a failure stops the
run); `quarantine` rules take unusable landing rows out of the lake into
<lake>/quarantine/<table>/; `warn` rules are findings about the exports.
"""

from __future__ import annotations

from stedi.context import Policy
from stedi.core.quality.kinds import QUARANTINE, WARN
from stedi.core.quality.rules import (
    Rule,
    allowed,
    complete,
    forbids,
    holds,
    in_range,
    references,
    row_count,
    sql,
    unique,
    usual_group_size,
)
from stedi.core.tables import (
    DIRECT_IDENTIFIERS,
    MACHINE_LEARNING_COLUMNS,
    MACHINE_LEARNING_COLUMNS_UDACITY,
)

# The oldest customer we believe in: born at most this many years before registering.
MAX_AGE_YEARS = 110
# Regular expressions here run on Java's engine (Spark) and Rust's (Sail): only syntax both read
# the same way. Not `\s` (ASCII whitespace in Java, Unicode in Rust) but the ASCII characters
# themselves; not `$` (Java's also matches before a final line break) but `\z` (the end of the
# text).
_NOT_AT_OR_SPACE = r"[^@ \t\n\x0B\f\r]+"
EMAIL_PATTERN = rf"\A{_NOT_AT_OR_SPACE}@{_NOT_AT_OR_SPACE}\.{_NOT_AT_OR_SPACE}\z"
AXIS_VALUES = (-1, 0, 1)

BIRTHDAY_PLAUSIBLE = (
    "birthDay is null or ("
    # The length excludes a trailing line break, which Java's `$` lets through and Rust's does not.
    "length(birthDay) = 10 and birthDay rlike "
    "'^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' "
    "and birthDay <= date_format(timestamp_millis(registrationDate), 'yyyy-MM-dd') "
    "and birthDay >= date_format(add_months(timestamp_millis(registrationDate), -12 * "
    f"{MAX_AGE_YEARS}), 'yyyy-MM-dd'))"
)


def _customer_keys() -> tuple[Rule, ...]:
    return (
        complete("email"),
        complete("serialNumber"),
        unique(
            "email",
            description="one record per customer (intake keeps the latest by lastUpdateDate)",
        ),
    )


def _research_consent() -> Rule:
    return complete(
        "shareWithResearchAsOfDate",
        name="research_consent_present",
        description="no customer without research consent",
    )


# The customer tables are small: the joins with them are broadcast (`/*+ BROADCAST(c) */`), since
# from the size of its JSON Spark would shuffle and sort every reading to join customer_landing
# once it passes 10 MB (at N=40 or so).
RULES: dict[str, tuple[Rule, ...]] = {
    # -- landing: what was received, well-formed and typed ---------------------------------
    "customer_landing": (
        *_customer_keys(),
        complete("registrationDate", severity=WARN),
        allowed(
            "email",
            pattern=EMAIL_PATTERN,
            severity=WARN,
            name="email_well_formed",
            description="email looks like an address",
        ),
        unique(
            "serialNumber",
            severity=WARN,
            description="one device per customer (a shared serial number makes the device owner "
            "ambiguous)",
        ),
        unique("phone", severity=WARN, description="a phone number belongs to one customer"),
        holds(
            "birthDay_plausible",
            BIRTHDAY_PLAUSIBLE,
            columns=("birthDay", "registrationDate"),
            severity=WARN,
            description=f"birthDay is a yyyy-MM-dd date at most {MAX_AGE_YEARS} years before "
            "registration and not after it",
        ),
    ),
    "accelerometer_landing": (
        complete("user"),
        complete("timestamp"),
        complete(
            "x",
            "y",
            "z",
            severity=QUARANTINE,
            name="reading_complete",
            description="a reading has x, y and z",
        ),
        references(
            "user",
            "customer_landing",
            "email",
            severity=QUARANTINE,
            name="reading_owner_known",
            description="a reading belongs to a known customer",
        ),
        # No uniqueness rule over all five columns: intake drops exact duplicates, so it could not
        # fail.
        allowed(
            "x",
            "y",
            "z",
            values=AXIS_VALUES,
            severity=WARN,
            name="axis_values_quantized",
            description="the exports hold accelerations quantized to -1, 0, 1",
        ),
        unique(
            "user",
            "timestamp",
            severity=WARN,
            name="one_reading_per_user_and_instant",
            description="one reading per customer and millisecond",
        ),
        usual_group_size(
            "user",
            unit="customers",
            name="readings_per_customer_usual",
            description="readings per customer within the usual range",
        ),
        sql(
            "reading_not_before_registration",
            """select /*+ BROADCAST(c) */ a.* from {primary} a left semi join {customer_landing} c
               on a.user = c.email and a.timestamp < c.registrationDate""",
            severity=WARN,
            description="readings taken before their owner registered",
        ),
    ),
    "step_trainer_landing": (
        complete("sensorReadingTime"),
        complete("serialNumber"),
        complete("distanceFromObject", severity=QUARANTINE, name="distance_complete"),
        in_range(
            "distanceFromObject",
            min=0,
            severity=QUARANTINE,
            name="distance_not_negative",
            description="a distance is never negative",
        ),
        references(
            "serialNumber",
            "customer_landing",
            "serialNumber",
            severity=QUARANTINE,
            name="device_known",
            description="a reading comes from a known customer's device",
        ),
        unique(
            "serialNumber",
            "sensorReadingTime",
            severity=WARN,
            name="one_reading_per_device_and_instant",
            description="one distance per device and millisecond",
        ),
        usual_group_size(
            "serialNumber",
            unit="devices",
            name="readings_per_device_usual",
            description="readings per device within the usual range",
        ),
        sql(
            "reading_not_before_registration",
            """select /*+ BROADCAST(c) */ s.* from {primary} s left semi join {customer_landing} c
               on s.serialNumber = c.serialNumber and s.sensorReadingTime < c.registrationDate""",
            severity=WARN,
            description="readings taken before the device's owner registered",
        ),
    ),
    # -- trusted: landing filtered to what may be used ---------------------------------------
    "customer_trusted": (
        *_customer_keys(),
        _research_consent(),
        row_count(
            "<=",
            reference="customer_landing",
            name="rows_at_most_landing",
            description="a trusted table never has more rows than its landing table",
        ),
    ),
    "accelerometer_trusted": (
        complete("user"),
        complete("timestamp"),
        references(
            "user",
            "customer_trusted",
            "email",
            name="reading_of_consenting_customer",
            description="no reading of a customer without research consent",
        ),
        sql(
            "reading_not_before_consent",
            """select /*+ BROADCAST(c) */ a.* from {primary} a left semi join {customer_trusted} c
               on a.user = c.email and a.timestamp < c.shareWithResearchAsOfDate""",
            description="no reading taken before its owner's consent",
            policies=(Policy.STRICT,),
        ),
        row_count(
            "<=",
            reference="accelerometer_landing",
            name="rows_at_most_landing",
            description="a trusted table never has more rows than its landing table",
        ),
    ),
    "step_trainer_trusted": (
        complete("sensorReadingTime"),
        complete("serialNumber"),
        references(
            "serialNumber",
            "customer_trusted",
            "serialNumber",
            name="device_of_consenting_customer",
            description="no reading of a device whose owner has not consented",
        ),
        references(
            "serialNumber",
            "customer_curated",
            "serialNumber",
            name="device_of_curated_customer",
            description="readings of curated customers' devices only",
        ),
        sql(
            "reading_not_before_consent",
            """select /*+ BROADCAST(c) */ s.* from {primary} s left semi join {customer_trusted} c
               on s.serialNumber = c.serialNumber
               and s.sensorReadingTime < c.shareWithResearchAsOfDate""",
            description="no reading taken before its owner's consent",
            policies=(Policy.STRICT,),
        ),
        row_count(
            "<=",
            reference="step_trainer_landing",
            name="rows_at_most_landing",
            description="a trusted table never has more rows than its landing table",
        ),
    ),
    # -- curated: joins and domain logic for consumers -------------------------------------------
    "customer_curated": (
        *_customer_keys(),
        _research_consent(),
        references(
            "email",
            "customer_trusted",
            "email",
            name="customer_is_trusted",
            description="curated customers are trusted (consenting) customers",
        ),
        references(
            "email",
            "accelerometer_trusted",
            "user",
            name="customer_has_readings",
            description="every curated customer has trusted accelerometer readings",
        ),
        row_count(
            "<=",
            reference="customer_trusted",
            name="customers_at_most_trusted",
            description="a curated table never has more customers than trusted",
        ),
    ),
    "machine_learning_curated": (
        complete("sensorReadingTime", "serialNumber", "timestamp", name="keys_complete"),
        complete("user", policies=(Policy.UDACITY,)),
        holds(
            "same_instant",
            "sensorReadingTime = timestamp",
            columns=("sensorReadingTime", "timestamp"),
            description="a step reading is paired with an accelerometer reading of the same "
            "millisecond",
        ),
        unique(
            *[c for c, _ in MACHINE_LEARNING_COLUMNS],
            name="no_duplicate_rows",
            policies=(Policy.STRICT,),
        ),
        unique(
            *[c for c, _ in MACHINE_LEARNING_COLUMNS_UDACITY],
            name="no_duplicate_rows",
            policies=(Policy.UDACITY,),
        ),
        references(
            "serialNumber",
            "customer_trusted",
            "serialNumber",
            name="device_of_consenting_customer",
            description="no reading of a device whose owner has not consented",
        ),
        references(
            "user",
            "customer_trusted",
            "email",
            name="reading_of_consenting_customer",
            description="no accelerometer reading of a customer without research consent",
            policies=(Policy.UDACITY,),
        ),
        sql(
            "reading_of_device_owner",
            """select m.* from {primary} m left anti join (
                 select /*+ BROADCAST(c) */ c.serialNumber, a.timestamp, a.x, a.y, a.z
                 from {customer_trusted} c join {accelerometer_trusted} a on a.user = c.email
               ) o
               on o.serialNumber = m.serialNumber and o.timestamp = m.timestamp
                  and o.x <=> m.x and o.y <=> m.y and o.z <=> m.z""",
            description="every row's accelerometer reading belongs to the owner of its step "
            "trainer device",
            policies=(Policy.STRICT,),
        ),
        sql(
            "reading_not_before_consent",
            """select /*+ BROADCAST(c) */ m.* from {primary} m left semi join {customer_trusted} c
               on m.serialNumber = c.serialNumber
                  and least(m.sensorReadingTime, m.timestamp) < c.shareWithResearchAsOfDate""",
            description="no reading taken before its owner's consent",
            policies=(Policy.STRICT,),
        ),
        forbids(
            *DIRECT_IDENTIFIERS,
            name="no_direct_identifiers",
            description="no name, email, phone, birthday or user in the ML table",
            policies=(Policy.STRICT,),
        ),
        row_count(
            "<=",
            reference="customer_trusted",
            distinct="serialNumber",
            name="customers_at_most_trusted",
            description="a curated table never has more customers (devices) than trusted",
        ),
        unique(
            "serialNumber",
            "sensorReadingTime",
            severity=WARN,
            name="one_reading_per_step",
            description="each step trainer reading is paired with one accelerometer reading",
        ),
    ),
}
