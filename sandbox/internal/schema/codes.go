package schema

import "strings"

// currencies is ISO 4217 List One (current funds and currencies), alphabetic
// codes only, as a string-keyed set. XTS (testing) and XXX (no currency) are
// left out: neither can be a vendor's currency. Withdrawn codes (HRK, SLL,
// ZWL, ANG, CUC, and BGN since Bulgaria adopted the euro on 1 January 2026)
// are not in the list.
var currencies = codeSet(`
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL
BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF
DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG
HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK
LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN
NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY
TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA
XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG`)

// countries is ISO 3166-1 alpha-2: the 249 officially assigned codes.
var countries = codeSet(`
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM
BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX
CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG
GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR
IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV
LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE
NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO
RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF
WS YE YT ZA ZM ZW`)

// codeSet builds a read-only set from whitespace-separated codes. The maps
// are filled once at package initialisation and never written afterwards.
func codeSet(list string) map[string]struct{} {
	f := strings.Fields(list)
	m := make(map[string]struct{}, len(f))
	for _, c := range f {
		m[c] = struct{}{}
	}
	return m
}

// IsCurrency reports whether code is an active ISO 4217 alphabetic currency
// code (upper case, as the standard writes them).
func IsCurrency(code string) bool {
	_, ok := currencies[code]
	return ok
}

// isCountry reports whether code is an assigned ISO 3166-1 alpha-2 code.
func isCountry(code []byte) bool {
	_, ok := countries[string(code)]
	return ok
}
