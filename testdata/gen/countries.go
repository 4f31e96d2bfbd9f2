package main

import "fmt"

// country holds what the generator needs to make plausible vendors and
// employees of one country.
type country struct {
	code, name, currency string
	// weight is the relative share of vendors in this country.
	weight int
	// cities with their state or province (empty where addresses carry none)
	// and a postal code prefix the rest of which is random digits.
	cities []city
	// streets are street names; the house number is placed per streetFormat.
	streets      []string
	streetFormat func(street string, number int) string
	postalFormat func(r *rng, prefix string) string
	phone        func(r *rng) string
	taxID        func(r *rng) string
	legalForms   []string
	firstNames   []string
	lastNames    []string
	// entity is our own legal entity there, the companyName of employees.
	entity string
}

type city struct{ name, state, postalPrefix string }

func numberFirst(street string, n int) string { return fmt.Sprintf("%d %s", n, street) }
func numberLast(street string, n int) string  { return fmt.Sprintf("%s %d", street, n) }

func digitsPostal(n int) func(*rng, string) string {
	return func(r *rng, prefix string) string { return prefix + r.digits(n-len(prefix)) }
}

var countries = []country{
	{
		code: "US", name: "United States", currency: "USD", weight: 30,
		cities:       []city{{"New York", "NY", "100"}, {"Chicago", "IL", "606"}, {"San Francisco", "CA", "941"}, {"Austin", "TX", "787"}, {"Seattle", "WA", "981"}, {"Boston", "MA", "021"}, {"Atlanta", "GA", "303"}, {"Denver", "CO", "802"}, {"Newtown Square", "PA", "190"}, {"Miami", "FL", "331"}},
		streets:      []string{"Main Street", "Market Street", "Oak Avenue", "Park Avenue", "Elm Street", "Lake Shore Drive", "Commerce Way", "Industrial Parkway", "Washington Boulevard", "West Chester Pike"},
		streetFormat: numberFirst, postalFormat: digitsPostal(5),
		phone:      func(r *rng) string { return "+1 " + r.digits(3) + " 555 " + r.digits(4) },
		taxID:      func(r *rng) string { return r.digits(2) + "-" + r.digits(7) },
		legalForms: []string{"Inc.", "LLC", "Corp.", "Co."},
		firstNames: []string{"James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "Daniel", "Emily", "Kevin", "Ashley", "Brian", "Megan", "Jason", "Nicole"},
		lastNames:  []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson"},
		entity:     "Northwind Industries, Inc.",
	},
	{
		code: "DE", name: "Germany", currency: "EUR", weight: 15,
		cities:       []city{{"Berlin", "", "10"}, {"München", "", "80"}, {"Hamburg", "", "20"}, {"Frankfurt am Main", "", "60"}, {"Köln", "", "50"}, {"Stuttgart", "", "70"}, {"Walldorf", "", "69"}, {"Düsseldorf", "", "40"}},
		streets:      []string{"Hauptstraße", "Bahnhofstraße", "Industriestraße", "Gartenstraße", "Schillerstraße", "Goethestraße", "Dietmar-Hopp-Allee", "Lindenallee"},
		streetFormat: numberLast, postalFormat: digitsPostal(5),
		phone:      func(r *rng) string { return "+49 " + r.digits(2) + " " + r.digits(7) },
		taxID:      func(r *rng) string { return "DE" + r.digits(9) },
		legalForms: []string{"GmbH", "AG", "GmbH & Co. KG", "KG"},
		firstNames: []string{"Lukas", "Anna", "Jonas", "Lea", "Felix", "Hannah", "Maximilian", "Sophie", "Paul", "Marie", "Jürgen", "Sabine"},
		lastNames:  []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Richter"},
		entity:     "Northwind Industries GmbH",
	},
	{
		code: "FR", name: "France", currency: "EUR", weight: 10,
		cities:       []city{{"Paris", "Île-de-France", "75"}, {"Lyon", "Auvergne-Rhône-Alpes", "69"}, {"Marseille", "Provence-Alpes-Côte d'Azur", "13"}, {"Toulouse", "Occitanie", "31"}, {"Lille", "Hauts-de-France", "59"}, {"Nantes", "Pays de la Loire", "44"}},
		streets:      []string{"rue de la République", "avenue Victor Hugo", "boulevard Haussmann", "rue du Faubourg Saint-Honoré", "rue Nationale", "avenue Jean Jaurès"},
		streetFormat: numberFirst, postalFormat: digitsPostal(5),
		phone: func(r *rng) string {
			return "+33 1 " + r.digits(2) + " " + r.digits(2) + " " + r.digits(2) + " " + r.digits(2)
		},
		taxID:      func(r *rng) string { return "FR" + r.digits(11) },
		legalForms: []string{"SAS", "SARL", "S.A."},
		firstNames: []string{"Louis", "Camille", "Hugo", "Chloé", "Arthur", "Léa", "Jules", "Manon", "Nathan", "Inès"},
		lastNames:  []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"},
		entity:     "Northwind Industries France SAS",
	},
	{
		code: "GB", name: "United Kingdom", currency: "GBP", weight: 10,
		cities:       []city{{"London", "England", "EC"}, {"Manchester", "England", "M"}, {"Birmingham", "England", "B"}, {"Edinburgh", "Scotland", "EH"}, {"Bristol", "England", "BS"}, {"Cardiff", "Wales", "CF"}},
		streets:      []string{"High Street", "Station Road", "Church Lane", "Victoria Road", "King Street", "Queen's Road"},
		streetFormat: numberFirst,
		postalFormat: func(r *rng, prefix string) string {
			return fmt.Sprintf("%s%d %d%s", prefix, r.between(1, 20), r.intn(10), r.letters(2))
		},
		phone:      func(r *rng) string { return "+44 20 " + r.digits(4) + " " + r.digits(4) },
		taxID:      func(r *rng) string { return "GB" + r.digits(9) },
		legalForms: []string{"Ltd", "plc", "LLP"},
		firstNames: []string{"Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Emily", "Charlie", "Sophie"},
		lastNames:  []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Roberts", "Walker"},
		entity:     "Northwind Industries UK Ltd",
	},
	{
		code: "NL", name: "Netherlands", currency: "EUR", weight: 5,
		cities:       []city{{"Amsterdam", "", "10"}, {"Rotterdam", "", "30"}, {"Utrecht", "", "35"}, {"Eindhoven", "", "56"}},
		streets:      []string{"Keizersgracht", "Coolsingel", "Stationsplein", "Dorpsstraat", "Kerkstraat"},
		streetFormat: numberLast,
		postalFormat: func(r *rng, prefix string) string { return prefix + r.digits(2) + " " + r.letters(2) },
		phone:        func(r *rng) string { return "+31 20 " + r.digits(3) + " " + r.digits(4) },
		taxID:        func(r *rng) string { return "NL" + r.digits(9) + "B01" },
		legalForms:   []string{"B.V.", "N.V."},
		firstNames:   []string{"Daan", "Emma", "Sem", "Julia", "Lucas", "Tess", "Bram", "Sanne"},
		lastNames:    []string{"de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer"},
		entity:       "Northwind Industries B.V.",
	},
	{
		code: "CH", name: "Switzerland", currency: "CHF", weight: 4,
		cities:       []city{{"Zürich", "ZH", "80"}, {"Genève", "GE", "12"}, {"Basel", "BS", "40"}, {"Bern", "BE", "30"}},
		streets:      []string{"Bahnhofstrasse", "Rue du Rhône", "Freie Strasse", "Marktgasse"},
		streetFormat: numberLast, postalFormat: digitsPostal(4),
		phone:      func(r *rng) string { return "+41 44 " + r.digits(3) + " " + r.digits(2) + " " + r.digits(2) },
		taxID:      func(r *rng) string { return "CHE-" + r.digits(3) + "." + r.digits(3) + "." + r.digits(3) + " MWST" },
		legalForms: []string{"AG", "GmbH", "SA"},
		firstNames: []string{"Noah", "Mia", "Luca", "Elena", "Leon", "Lara"},
		lastNames:  []string{"Müller", "Meier", "Schmid", "Keller", "Weber", "Huber"},
		entity:     "Northwind Industries AG",
	},
	{
		code: "CA", name: "Canada", currency: "CAD", weight: 7,
		cities:       []city{{"Toronto", "ON", "M5"}, {"Montréal", "QC", "H3"}, {"Vancouver", "BC", "V6"}, {"Calgary", "AB", "T2"}, {"Ottawa", "ON", "K1"}},
		streets:      []string{"King Street West", "Rue Sainte-Catherine", "Granville Street", "Bay Street", "Yonge Street"},
		streetFormat: numberFirst,
		postalFormat: func(r *rng, prefix string) string {
			return prefix + r.letters(1) + " " + r.digits(1) + r.letters(1) + r.digits(1)
		},
		phone:      func(r *rng) string { return "+1 416 555 " + r.digits(4) },
		taxID:      func(r *rng) string { return r.digits(9) + "RT0001" },
		legalForms: []string{"Ltd.", "Inc.", "Corp."},
		firstNames: []string{"Liam", "Olivia", "Noah", "Charlotte", "William", "Émilie", "Benjamin", "Florence"},
		lastNames:  []string{"Tremblay", "Roy", "Gagnon", "Smith", "Brown", "Wilson", "Côté", "Li"},
		entity:     "Northwind Industries Canada Ltd.",
	},
	{
		code: "JP", name: "Japan", currency: "JPY", weight: 6,
		cities:       []city{{"Tokyo", "Tokyo", "1"}, {"Osaka", "Osaka", "5"}, {"Yokohama", "Kanagawa", "2"}, {"Nagoya", "Aichi", "4"}},
		streets:      []string{"Marunouchi", "Shibuya", "Umeda", "Minatomirai", "Sakae"},
		streetFormat: func(street string, n int) string { return fmt.Sprintf("%d-%d-%d %s", n%9+1, n%20+1, n%15+1, street) },
		postalFormat: func(r *rng, prefix string) string { return prefix + r.digits(2) + "-" + r.digits(4) },
		phone:        func(r *rng) string { return "+81 3 " + r.digits(4) + " " + r.digits(4) },
		taxID:        func(r *rng) string { return "T" + r.digits(13) },
		legalForms:   []string{"K.K.", "Co., Ltd."},
		firstNames:   []string{"Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Takumi", "Sakura"},
		lastNames:    []string{"Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"},
		entity:       "Northwind Industries Japan K.K.",
	},
	{
		code: "IN", name: "India", currency: "INR", weight: 6,
		cities:       []city{{"Bengaluru", "KA", "560"}, {"Mumbai", "MH", "400"}, {"New Delhi", "DL", "110"}, {"Pune", "MH", "411"}, {"Hyderabad", "TG", "500"}},
		streets:      []string{"MG Road", "Residency Road", "Nariman Point", "Connaught Place", "Hitech City Road"},
		streetFormat: numberFirst, postalFormat: digitsPostal(6),
		phone: func(r *rng) string { return "+91 80 " + r.digits(4) + " " + r.digits(4) },
		taxID: func(r *rng) string {
			return r.digits(2) + r.letters(5) + r.digits(4) + r.letters(1) + "1Z" + r.digits(1)
		},
		legalForms: []string{"Pvt. Ltd.", "Ltd.", "LLP"},
		firstNames: []string{"Aarav", "Priya", "Vivaan", "Ananya", "Arjun", "Diya", "Rohan", "Kavya"},
		lastNames:  []string{"Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Singh", "Rao"},
		entity:     "Northwind Industries India Pvt. Ltd.",
	},
	{
		code: "AU", name: "Australia", currency: "AUD", weight: 7,
		cities:       []city{{"Sydney", "NSW", "20"}, {"Melbourne", "VIC", "30"}, {"Brisbane", "QLD", "40"}, {"Perth", "WA", "60"}},
		streets:      []string{"George Street", "Collins Street", "Queen Street", "St Georges Terrace", "Pitt Street"},
		streetFormat: numberFirst, postalFormat: digitsPostal(4),
		phone:      func(r *rng) string { return "+61 2 " + r.digits(4) + " " + r.digits(4) },
		taxID:      func(r *rng) string { return r.digits(2) + " " + r.digits(3) + " " + r.digits(3) + " " + r.digits(3) },
		legalForms: []string{"Pty Ltd", "Ltd"},
		firstNames: []string{"Jack", "Charlotte", "William", "Olivia", "Thomas", "Mia", "Lachlan", "Chloe"},
		lastNames:  []string{"Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Kelly"},
		entity:     "Northwind Industries Australia Pty Ltd",
	},
}

// pickCountry picks a country by weight.
func pickCountry(r *rng) *country {
	total := 0
	for i := range countries {
		total += countries[i].weight
	}
	n := r.intn(total)
	for i := range countries {
		if n < countries[i].weight {
			return &countries[i]
		}
		n -= countries[i].weight
	}
	return &countries[len(countries)-1]
}
