#!/usr/bin/env python3
"""Writes refused.txt and ordinary.txt, the corpus tests/pii_corpus.rs measures the
personal-data scan on. Run once from this folder; the text files are committed and the
test reads them, so this script only documents where they came from (and can grow them).

All data is invented: 555 phone numbers, example.org addresses, made-up names and
streets, SIN-shaped numbers that are not anyone's."""

import random

rng = random.Random(15)

FIRST = ["Maria", "Fatima", "Amina", "Rosa", "Nadia", "Lina", "Sara", "Joy", "Grace",
         "Aïcha", "Mireille", "Esther", "Yasmine", "Chantal", "Ana"]
LAST = ["Diallo", "Example", "Exemple", "Tremblay", "Sample", "Testa", "Okafor", "Nguyen",
        "Joseph", "Pierre", "Moreau", "Dupont"]
AREAS = ["514", "438", "450", "819", "613", "416", "604", "902", "506", "418"]
STREETS_EN = ["yonge", "main", "elgin", "bank", "queen", "king", "maple", "oak", "pine",
              "cedar", "birch", "elm", "wellington", "rideau", "dundas"]
STREETS_FR = ["Exemple", "Principale", "du Lac", "des Érables", "Saint-Denis", "Notre-Dame",
              "Sherbrooke", "Ontario", "de la Gare", "du Moulin"]
SAINTS = ["Saint-Denis", "Saint-Laurent", "Sainte-Catherine", "St-Hubert", "Ste-Foy",
          "Saint-Urbain", "St-Joseph"]
ZW = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
FULL = str.maketrans("0123456789-@.", "０１２３４５６７８９－＠．")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

def phone():
    return rng.choice(AREAS), "555", f"01{rng.randint(0, 99):02d}"

def name():
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"

def sin():
    return f"{rng.randint(100, 999):03d}", f"{rng.randint(100, 999):03d}", f"{rng.randint(100, 999):03d}"

def zw_join(s):
    return rng.choice(ZW).join(s)

refused = []
add = refused.append

# Phone numbers, every separator and disguise.
for sep in [" - ", "/", "_", ".", " ", "-", " . ", " / ", "__", ") ", "  "]:
    for lead in ["call", "cell", "tél", "joindre au", "her number", "text"]:
        a, b, c = phone()
        if sep == ") ":
            add(f"{lead} ({a}) {b}-{c}")
        else:
            add(f"{lead} {a}{sep}{b}{sep}{c}")
for _ in range(12):
    a, b, c = phone()
    add(f"call {zw_join(a + b + c)} tonight")
    add(f"cell {a}\u200b-\u200b{b}\u200b-\u200b{c}")
    add(f"tel {(a + '-' + b + '-' + c).translate(FULL)}")
    add(f"appeler au {(a + ' ' + b + ' ' + c).translate(ARABIC)}")
    add(f"1-{a}-{b}-{c}")
    add(f"+1 {a} {b} {c}")
    add(f"{a}{b}{c} after 8")
    add(f"number is {b}-{c}")
    add(f"{a}\u2013{b}\u2013{c}")
for p in ["+33 1 23 45 67 89", "+509 3712 3456", "+44 20 7946 0000", "+33 6 12 34 56 78",
          "0033 6 12 34 56 78", "06 12 34 56 78", "06/12/34/56/78", "+1 (514) 555-0100"]:
    add(f"famille au {p}")

# Email addresses, written out and disguised.
for _ in range(6):
    f = rng.choice(FIRST).lower().replace("ï", "i")
    add(f"write to {f}@example.org")
    add(f"courriel {f}＠example.org")
    add(f"{f} at example dot org")
    add(f"{f} AT example DOT org")
    add(f"{f} arobase exemple point org")
    add(f"{f} (at) example (dot) org")
    add(f"{f} [at] example [dot] org")
    add(f"{f}@example dot org")
    add(f"{f} arobase example.org")
    add(f"{f}.{rng.choice(LAST).lower()}@mail.example.org")
    add(f"{f} @ example.org")
    add(f"{zw_join(f)}@exa\u200bmple.org")

# Postal codes.
for pc in ["H2X 1Y4", "h2x1y4", "K1A-0B1", "J8Y 3R5", "Ｈ２Ｘ　１Ｙ４", "m5v 2t6", "B3H 4R2"]:
    add(f"near {pc}")

# Dates of birth and the words that announce them.
for d in ["Né(e) le 3 mars", "né le 12 avril", "née le 1er mai", "née en Haïti",
          "né·e le 4 juin", "née-e le 4 juin", "born in 1990", "born 3 March",
          "DOB 1990", "D.O.B. 12/04", "date of birth: 12 April", "date de naissance: 3 mars",
          "DDN 3 mars", "birth date 4 June", "1990-04-12", "12/04/1990", "12-04-90",
          "12.04.1990", "12 avril 1998", "April 12, 1998", "3 March 1999", "1er mai 2001"]:
    add(d)

# Labels that introduce a name.
for _ in range(4):
    n = name()
    first = n.split()[0]
    add(f"Nom: {n}")
    add(f"nom : {n}")
    add(f"Name: {n}")
    add(f"name - {n}")
    add(f"Prénom : {first}")
    add(f"prenom {first}")
    add(f"first name: {first}")
    add(f"last name = {n.split()[1]}")
    add(f"her name is {first}")
    add(f"elle s'appelle {first}")
    add(f"son nom est {n}")
    add(f"nom de famille {n.split()[1]}")
    add(f"surname {n.split()[1]}")

# Street addresses, French and English, with their abbreviations.
for _ in range(6):
    num = rng.randint(10, 9999)
    s = rng.choice(STREETS_EN)
    add(f"{num} {s} st")
    add(f"{num} {s} St.")
    add(f"{num} {s} ave")
    add(f"{num} {s} blvd")
    add(f"{num} {s} rd")
    add(f"{num} {s.capitalize()} Street")
    add(f"drop off at {num} {s} street")
    f = rng.choice(STREETS_FR)
    add(f"{num} rue {f}")
    add(f"{num}, boul. {f}")
    add(f"{num} ch. {f}")
    add(f"{num} avenue {f}")
    add(f"app. {rng.randint(1, 40)}, {num} {rng.choice(SAINTS)}")
    add(f"{num} {rng.choice(SAINTS)}")
    add(f"apt {rng.randint(1, 40)}B")
    add(f"unit {rng.randint(1, 400)}")
    add(f"appartement {rng.randint(1, 40)}")
    add(f"#{rng.randint(1, 40)}-{num} {s} st")
for a in ["500 5th Avenue", "22 2nd St", "3 Oak Court", "12 Test Way", "5 Maple Lane",
          "99 Sample Dr.", "7 Example Road", "14 Birch Crescent", "10 Queen Avenue",
          "100 place Exemple", "22 montée Exemple", "3500 chemin de l'Exemple"]:
    add(a)

# SIN and document numbers.
for _ in range(6):
    a, b, c = sin()
    for sep in [" ", ".", "-", "/", "_", ""]:
        add(f"SIN {a}{sep}{b}{sep}{c}")
    add(f"NAS {zw_join(a + b + c)}")
for _ in range(5):
    letters = rng.choice(["HT", "AB", "GA", "QC", "CA", "XY", "P"])
    digits = str(rng.randint(100000, 9999999))
    add(f"passport {letters}{digits}")
    add(f"PASSPORT {letters}{digits}")
    add(f"passeport {letters} {str(rng.randint(1000, 99999))}")
    add(f"passport no. {rng.randint(10000, 99999)}")
    add(f"passeport numéro {rng.randint(1000, 99999)}")
    add(f"permis {letters}{digits}")
    add(f"card 1234 5678 {rng.randint(1000, 9999)}")
    add(f"health card ABCD {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}")
    add(f"account 12-{rng.randint(1000, 9999)}-78")
    add(f"document {rng.randint(100000, 999999)}")

ordinary = []
keep = ordinary.append
CITIES = ["Gatineau", "Ottawa", "Montréal", "Laval", "Sherbrooke", "Québec", "Trois-Rivières",
          "Toronto", "Halifax", "Moncton", "Winnipeg", "Saint-Jérôme", "Rimouski", "Longueuil",
          "St-Hyacinthe", "Val-d'Or", "Rouyn-Noranda", "Kingston", "Vancouver", "Fredericton"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]
MONTHS_FR = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre"]

fixed = [
    "needs halal food", "needs halal food, 4 meals", "court on March 3 in Gatineau",
    "2 children, stroller", "bus leaves 6:40", "appt at 14:30", "room 12",
    "2 nights, arrive late, needs ground floor", "bus at 23:55 from gate 4",
    "2 nuits, arrivée tard, rez-de-chaussée svp", "autobus de 6h15, quai 12",
    "with 2 children, 1 stroller", "train 64 to Ottawa, seat 12",
    "hotel 189.00 per night, 3 people", "3 nights before court on the 14th",
    "2 nights on the street before this", "flight AC 8824 leaves 07:40",
    "arrives 12/04, leaves the next day", "le 12 avril, retour le 15",
    "carte d'appel 50 minutes", "total 1250.00 for the week",
    "on the way to the shelter in Gatineau", "room on the 2nd floor, near the elevator",
    "interprète en tigrinya pour 2 heures", "prefers a woman driver",
    "ne le dis pas au chauffeur", "a newborn travels with her", "arrives 12/04-15/04",
    "2 nights @189.00", "12 hour drive to Toronto", "2 nights St-Jérôme then bus",
    "3 hour road trip", "her 4th court date", "arrivée en 1re place",
    "no pork, no alcohol in the room", "sans porc svp", "végétarienne",
    "allergic to peanuts", "allergie aux arachides", "needs a crib", "lit de bébé svp",
    "wheelchair accessible room please", "chambre accessible en fauteuil roulant",
    "meet at the meeting point tonight", "billet au nom de l'organisme",
    "passport photos for 2 kids", "passeports des 2 enfants à renouveler",
    "bus 105 St-Jean then train", "3 nights main st shelter", "court at 9h, room 4",
    "14h-16h at the legal clinic", "de 9h à 17h", "retour vers 22 h", "arrive around 7 pm",
    "phone card 25.00", "carte d'appel 20,00 $", "taxi 42.50 to the shelter",
    "groceries 85.00 for the week", "épicerie 1 250.00 pour le mois",
    "hotel 189.00 3 nights", "2 x 129.00 per night", "3 - 4 nights at most",
    "2-3 days until the bed opens", "case worker on call until 8",
    "the app on her phone needs data", "recharge téléphone 15 $", "data plan 30 GB",
    "bus pass for the month", "laissez-passer mensuel STO", "OC Transpo pass",
    "Greyhound to Toronto, 9:15 departure", "VIA train 35 at 17:30", "Orléans Express 8h",
    "ferry at 11:00", "flight WS 3401 at 06:05", "vol AC870 à 18h05",
    "gate 12345 at the airport", "terminal 3, porte 52", "seat 14C",
    "clothes for a 4 year old", "vêtements taille 10 ans", "diapers size 4",
    "couches taille 5", "formula for the baby", "lait maternisé",
    "interpreter for Spanish", "interprète espagnol", "needs a quiet room",
    "shelter full until Friday", "maison d'hébergement pleine jusqu'à vendredi",
    "pick up at the bus terminal", "rendez-vous au terminus", "safe house in another province",
    "transfer to a second-stage shelter", "hébergement de deuxième étape",
    "emergency bed for 2 nights", "lit d'urgence pour 2 nuits",
    "follow up on Monday", "suivi lundi", "court date moved to the 21st",
    "audience reportée au 21", "lawyer meeting on the 5th", "rencontre avocate le 5",
    "medical appt on Tuesday at 10:00", "rdv médical mardi 10h",
    "pharmacy 23.40", "pharmacie 23,40 $", "prescription ready at 16:00",
    "no contact with the family", "aucun contact avec la famille",
    "risk is high tonight", "risque élevé ce soir", "arrived safe", "arrivée en sécurité",
    "bus 12 at 6:40, then 44 at 7:15", "arrives 3/12 at 18:30", "du 12/04 au 15/04",
    "2 adults 3 kids 1 dog", "room 12, 4 nights, 2 beds", "chambre 214, 2e étage",
    "floor 3, room 305", "budget 500.00 max", "max 1 000.00 for the month",
    "paid 45.60 cash, receipt to follow", "reçu à suivre, 45,60 $", "km 240 on the 417",
    "exit 14 off the 40", "sortie 14 de l'autoroute 40", "route 117 north, 3 hour drive",
    "4th night at the motel", "1st appt tomorrow at 9:00", "2e rendez-vous jeudi",
    "the court is on Main street, no number needed", "near the St-Laurent metro",
    "métro Berri-UQAM à 8h", "she said her name only to the nurse",
    "no name on the reservation, use the case code", "date of the hearing unknown",
    "birthday of the child next week, cake 25.00", "passport office closed on Monday",
    "bureau des passeports lundi", "needs a SIN appointment at Service Canada",
    "NAS à faire demain", "at the bus station at noon", "at 10 pm at the latest",
    "at gate 7, dot on the map", "point de service de Gatineau", "from 9 to 5",
    "the app says the bus is late", "unit price 12.00", "2 units of formula",
    "street clothes and boots size 8", "rue barrée, détour par le pont",
    "suite 2 at the hotel", "appt moved to 15:45", "appartement supervisé plus tard",
    "total 387.00 (3 x 129.00)", "between 150.00-200.00 per night", "school year 2026-2027",
    "avec son nouveau-né à l'hôtel", "2 nights 14/12 - 16/12", "from 14/12 to 16/12 2 adults",
    "court 12/04 9:30", "1h30 drive to Kingston", "vol 6h40 - 9h15", "24/7 line at the shelter",
    "call 211 or 911 if needed", "room 1204, 12th floor", "2 bags 23 kg", "size 10-12",
    "4 x 25.00 phone cards", "flight 12:05, arrival 15:40", "Dec 24-26 at the hotel",
]
for f in fixed:
    keep(f)

for _ in range(260):
    c1, c2 = rng.sample(CITIES, 2)
    h, m = rng.randint(0, 23), rng.choice([0, 5, 10, 15, 20, 30, 40, 45, 50, 55])
    d = rng.randint(1, 28)
    kind = rng.randint(0, 13)
    if kind == 0:
        keep(f"bus {rng.randint(1, 199)} leaves {h}:{m:02d} for {c2}")
    elif kind == 1:
        keep(f"autobus {rng.randint(1, 199)} à {h}h{m:02d} vers {c2}")
    elif kind == 2:
        keep(f"court on {rng.choice(MONTHS_EN)} {d} in {c1}")
    elif kind == 3:
        keep(f"audience le {d} {rng.choice(MONTHS_FR)} à {c1}")
    elif kind == 4:
        keep(f"{rng.randint(1, 5)} nights in {c1}, {rng.randint(1, 4)} children")
    elif kind == 5:
        keep(f"{rng.randint(1, 5)} nuits à {c1}, {rng.randint(1, 4)} enfants")
    elif kind == 6:
        keep(f"hotel {rng.randint(89, 249)}.{rng.choice(['00', '50', '99'])} per night, room {rng.randint(1, 450)}")
    elif kind == 7:
        keep(f"appt at {h}:{m:02d} in {c1}")
    elif kind == 8:
        keep(f"rdv à {h}h{m:02d}, {c1}")
    elif kind == 9:
        keep(f"arrives {d:02d}/{rng.randint(1, 12):02d} {h}:{m:02d}, leaves {d + 2:02d}/{rng.randint(1, 12):02d}")
    elif kind == 10:
        keep(f"train {rng.randint(20, 699)} to {c2}, seat {rng.randint(1, 80)}")
    elif kind == 11:
        keep(f"taxi from {c1} station, about {rng.randint(15, 120)}.00")
    elif kind == 12:
        keep(f"{rng.randint(2, 6)} meals a day, {rng.randint(1, 4)} adults")
    else:
        keep(f"trajet {c1} - {c2}, départ {h}h")

for lst, path in [(refused, "refused.txt"), (ordinary, "ordinary.txt")]:
    seen = []
    for line in lst:
        line = line.replace("\n", " ").strip()
        if line and line not in seen:
            seen.append(line)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(seen) + "\n")
    print(path, len(seen))
