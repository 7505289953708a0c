"""ISO 4217 currencies in use, with their minor-unit digits (2 for EUR/USD, 0 for JPY, 3 for KWD).

Kept here rather than taken from Babel: CLDR's digits differ from ISO 4217's for several currencies
(IQD, for one), and a 160-entry table does not justify a 10 MB dependency.
"""

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD"
    " CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS"
    " GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL"
    " MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK"
    " PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS"
    " TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)

MINOR_UNITS: dict[str, int] = {
    code: digits
    for digits, codes in ((0, _ZERO), (2, _TWO), (3, _THREE), (4, _FOUR))
    for code in codes.split()
}


def canonical_currency(value: str) -> str:
    """An ISO 4217 code in upper case: ``eur`` -> ``EUR``; unknown codes raise ValueError."""
    code = value.strip().upper()
    if code not in MINOR_UNITS:
        raise ValueError(f"must be an ISO 4217 currency code such as EUR, USD or JPY, got {value!r}")
    return code
