"""Postal addresses in running text, in the formats of many countries: streets, units, c/o, PO boxes, military
addresses, postal codes and the city that goes with them.

An address is found from its own structure, not from a list of places: a house number next to a street type in
one of a dozen languages ("12 rue de la Paix", "Karl Johans gate 22", "Via Roma 12", "221B Baker Street",
"Hauptstraße 5", "ul. Marszałkowska 10/12"), a unit word before a number ("Flat 3", "Apt 4B", "Wohnung 3"), a
PO box in any language, an APO/DPO line, or a postal code in its country's shape next to a city ("0150 OSLO",
"75008 Paris", "1012 AB Amsterdam", "Toronto, ON M5V 2T6", "LONDON SW1A 1AA"). From a street, the address goes on
over the comma-separated places after it on the same line and over the next lines of a block (city, postal code).

Every recognizer yields `(start, end, entity, score, recognizer)`: ADDRESS for streets, units, boxes and cities,
ZIP for postal codes. Offsets only; `detect.py` turns them into spans.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from . import script_addresses
from .temporal import MONTHS, WEEKDAYS

Hit = tuple[int, int, str, float, str]

# a word of a street or place name: capitalized, or all capitals, in any Latin script, with inner ' - .
_UP = r"[A-ZÀ-ÖØ-ÞĀ-ſ]"
_NAME_WORD = rf"(?:{_UP}[\w'’\-]*\.?|\d{{1,3}}(?:st|nd|rd|th|ST|ND|RD|TH|e|er|ème|º|ª)\b)"
_PARTICLE = (r"(?:de|du|des|la|le|les|l'|d'|del|della|delle|dei|degli|di|da|do|dos|das|van|von|der|den|het|"
             r"am|an|im|zum|zur|of|the|y|e|i|på|ved|sur|sous|en|aux|los|las|lo|dels)")

# street types written after the name, as their own word ("Baker Street", "Rosebank Close", "MG Road")
TYPES_AFTER = (
    "Street St Road Rd Avenue Ave Av Lane Ln Drive Dr Court Ct Place Pl Way Boulevard Blvd Close Cl Crescent Cres "
    "Terrace Terr Tce Grove Gr Gardens Gdns Garden Mews Row Walk Square Sq Hill Rise Parade Pde Green Esplanade "
    "Promenade Quay Wharf Yard Chase Croft Wynd Vale View Park Parkway Pkwy Highway Hwy Circuit Cct Circle Cir "
    "Loop Trail Trl Path Pike Plaza Point Ridge Heights Hts Meadows Manor Gate Court Broadway Embankment Causeway "
    "Crossing Cove Bend Run Square Alley Trace Turnpike Expressway Freeway Estate Nagar Marg Colony Layout Cross "
    "Main Salai Bagh Vihar Enclave Chowk Peth Puram Halli Sector Phase Block "
    "Villas Mansions Cottages Buildings Apartments Apts Residency Residences Towers Flats Gardens Hwy "
    # the rest of USPS Publication 28's street suffixes (appendix C1) and their standard abbreviations
    "Branch Brg Bridge Brk Brook Brooks Burg Byp Bypass Camp Canyon Cyn Cape Center Ctr Cliff Cliffs Club Common "
    "Corner Corners Cor Course Creek Crk Crest Curve Dale Dam Divide Estates Ests Extension Ext Falls Ferry Fry "
    "Field Fields Flat Flats Ford Fords Forest Frst Forge Fork Forks Fort Ft Fwy Gateway Glen Glens Greens Groves "
    "Harbor Harbour Hbr Haven Hills Hollow Holw Inlet Island Islands Isle Junction Jct Key Keys Knoll Knolls Lake "
    "Lakes Landing Lndg Light Lights Lock Locks Lodge Mall Meadow Mill Mills Mission Motorway Mount Mt Mountain Mtn "
    "Neck Orchard Oval Pass Pine Pines Plain Plains Port Ports Prairie Ranch Rapids Rest River Route Rte Shoal "
    "Shoals Shore Shores Skyway Spring Springs Spur Station Sta Stravenue Stream Summit Smt Ter Track Trafficway "
    "Tunnel Union Valley Vly Via Viaduct Village Vlg Ville Vista Vis Wells Xing Expy Tpke Rdg"
).split()
# street types written before the name ("rue de la Paix", "Via Roma", "Calle Mayor", "ul. Marszałkowska")
TYPES_BEFORE = (
    "rue avenue av boulevard boul bd bld chemin ch allée allee impasse place pl quai route rte cours faubourg fg voie "
    "square passage via viale piazza piazzale p.zza corso largo vicolo strada contrada borgo calle c/ avenida "
    "avda plaza pza paseo carrer camino ronda travesía travesia glorieta rambla rua travessa praça praca alameda "
    "estrada ul ulica al aleja plac os osiedle str strada bd-ul bulevardul calea jalan jln lorong rehov rechov "
    "carrera cra cra. cr calle cl cll diagonal dg transversal tv avenida ak kr ngõ ngo đường duong phố pho hẻm "
    "soi thanon vía vicolo contrada borgo rotonda incrocio stretto canale pasaje pasadizo callejón callejon cuesta "
    "bajada cañada acceso urbanización urb privada cerrada circuito prolongación retorno andador periférico "
    "calzada beco calçada rotunda quinta lugar bairro travessia rodovia quadra setor conjunto loteamento "
    "sokak sk cadde cd calz calzada náměstí nám třída tř"
).split()
# Germanic, Nordic, Dutch and Finnish street types: the end of a compound ("Hauptstraße", "Storgata",
# "Keizersgracht", "Mannerheimintie") or a word of their own ("Karl Johans gate", "Dronning Mauds gate")
SUFFIXES = (
    "straße strasse str. straat weg gasse allee platz ring damm ufer chaussee steig pfad markt gate gata gaten "
    "gatan gränd vägen väg veien vegen vei veg vej vejen gade gaden stræde allé plads torv katu tie kuja polku "
    "väylä raitti laan plein gracht kade dijk singel steeg pad dreef hof baan kaai utca út tér körút sor "
    "cad. caddesi cd. sok. sokak sokağı bulvarı blv. mahallesi mah. ulice třída náměstí nábřeží ulica cesta "
    "iela prospekts gatve bakken berget haugen lia lunden løkka stien svingen toppen tunet vika åsen kroken "
    "vegen stranda moen myra jordet hagen plassen ringen alléen gränd stigen backen torget vägen "
    "rinne mäki piha ranta tori polku kaari "
    "plads vænget toften bakke høj have "
    "dreef hof straatje kade wal markt "
    "tänav maantee puiestee"
).split()

_T_AFTER = "|".join(sorted({re.escape(t) for t in TYPES_AFTER}, key=len, reverse=True))
# in capitals ("1422 W GRAND AVE"), without a full stop: "... LIVES AT 12 MAIN ST." ends a sentence
_T_AFTER_CAPS = "|".join(sorted({re.escape(t.upper()) for t in TYPES_AFTER}, key=len, reverse=True))
_T_BEFORE = "|".join(sorted({re.escape(t) for t in TYPES_BEFORE}, key=len, reverse=True))
_SUFFIX = "|".join(sorted({re.escape(t) for t in SUFFIXES}, key=len, reverse=True))

_HOUSE = (r"\d{1,5}(?:(?:[A-Za-z]|\s[A-Z])(?![\w]))?(?:\s?(?:bis|ter))?(?:\s?[-/]\s?\d{1,5}[A-Za-z]?){0,3}"
          r"(?:-(?:I{1,3}|IV|hs|huis|boven|[1-9])(?![\w]))?")  # Dutch floors: "Prinsengracht 263-II"
_UNIT_WORDS = (r"(?:Flat|Apt|Apartment|Appt|App|Apto|Depto|Dpto|Bloco|Bloque|Bât|Bâtiment|Escalier|Zimmer|Daire|"
               r"Emelet|Ajtó|Lokal|Mieszkanie|"
               r"Unit|Suite|Ste|Room|Rm|Floor|Fl|Level|Lvl|Bldg|Building|Block|Blk|"
               r"Wohnung|Whg|WE|Étage|Etage|étage|Bus|Boîte|Bte|Piso|Planta|Puerta|Pta|Escalera|Esc|Scala|Interno|"
               r"Int|Lgh|Leil|Huoneisto|Stg|Top|Tür|Door|Lot|Shop|Office|Villa|House|Plot|Door No|H\.?No|Studio|Kat|"
               r"Byt|D\.[ \t]?No|Bureau|Casa|Fração|Fracção|Bl|Sc|Ap|Gali|Blok|Sektor|Sector|Kamer|Chambre|Huone|"
               r"As|Pok|Pokój|Pokoj|Avd|Cuarto|Bajo|Quarto|Habitación|Habitacion|Camera|Stanza|Lgh\.?[ \t]?nr)")
_UNIT = re.compile(
    # one look-behind, then the branches by their first character (about twice as fast as each with its own)
    rf"(?<![\w-])(?:"
    rf"(?i:{_UNIT_WORDS})\.?[ \t]?(?::[ \t]?)?(?:No\.?[ \t]?|#[ \t]?|Nr\.?[ \t]?|n[º°o]\.?[ \t]?)?"
    r"(?=[\w\-/]*\d|[A-Z](?![\w]))[A-Za-z0-9][\w\-/]{0,9}(?![\w])"
    r"|\d{1,2}(?:"
    # "3º B", "2. OG", "3rd floor", "3. OG links"
    r"(?:º|ª|\.º|\.ª|\.|st|nd|rd|th|er|e|ème|o|a)?[ \t]?(?:(?i:OG|EG|DG|floor|étage|etage|piso|plan|"
    r"vån|etg|krs|kat|em|emelet|piętro|pietro|piano|andar|stock|verdieping|etasje|kerros|sal))(?![\w])"
    r"(?:[ \t]+(?:links|rechts|li\.|re\.|Mitte|gauche|droite|esq\.?|dto\.?))?"
    r"|\.?[ºª°]\s?(?i:Esq|Dto|Dta|Izq|Izda|Dcha|Dch|Drt|Centro|[A-Z0-9])\.?(?![\w])"
    # a floor alone after the house number ("2.º", "3º"), French floor sides ("5e gauche")
    r"|\.?[ºª°](?![\w])"
    r"|(?:e|er|ème)[ \t]+(?:gauche|droite|étage)(?![\w])"
    # Danish floors and sides ("3. tv.", "2. th"), Hong Kong and Taiwan floors ("18/F", "12F.")
    r"|\.[ \t]?(?:tv|th|mf|sal)\b\.?|/F\b|F\.(?!\w))"
    # Portuguese ground floor ("r/c dto"); Edinburgh and Glasgow flat positions before the street ("3F2")
    r"|r/c(?:[ \t]+(?:esq|dto)\.?)?|(?<!/)\d[FG]\d(?![\w])"
    # Turkish door numbers ("D:11", "D.3"), "#08-1135"
    r"|D[:.][ \t]?\d{1,3}(?![\w])|#\d{1,3}-\d{1,5}(?![\w])"
    # a Hungarian floor and door ("II/5."), a Norwegian flat number ("H0302"), a house number ("n.º 245")
    r"|[IVX]{1,4}/\d{1,3}\.?(?![\w])|H\d{4}(?![\w])|n\.?[ \t]?[º°]\.?[ \t]?\d{1,5}(?![\w])"
    r")"
    # Italian floors in words: "terzo piano"
    r"|(?i:primo|secondo|terzo|quarto|quinto|sesto|settimo|ottavo|nono|ultimo)[ \t]+piano(?![\w])"
)

_NUMBER_WORD = (r"(?:[Oo]ne|[Tt]wo|[Tt]hree|[Ff]our|[Ff]ive|[Ss]ix|[Ss]even|[Ee]ight|[Nn]ine|[Tt]en|[Ee]leven|"
                r"[Tt]welve|(?:[Tt]hir|[Ff]our|[Ff]if|[Ss]ix|[Ss]even|[Ee]igh|[Nn]ine)teen|"
                r"(?:[Tt]wenty|[Tt]hirty|[Ff]orty|[Ff]ifty|[Ss]ixty|[Ss]eventy|[Ee]ighty|[Nn]inety)"
                r"(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?)")
_STREET_AFTER = re.compile(
    # [house number] [direction] Name words  Type [direction]    "221B Baker Street", "12, MG Road", "Two Elm Grove"
    rf"(?<![\w\-.])(?:{_HOUSE}|{_NUMBER_WORD}),?\s+(?:(?:{_PARTICLE})\s+)?(?:{_NAME_WORD}\s+(?:(?:{_PARTICLE})\s+)?){{1,5}}"
    rf"(?:(?:{_T_AFTER})\b\.?|(?:{_T_AFTER_CAPS})\b)(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?"
    # a number after the type: "Ang Mo Kio Ave 10", "2217 Rural Route 4", "Waitetuna Valley Road, RD 1"
    r"(?:[ \t]+[1-9]\d{0,2}(?![\w\-/:]|[.,]\d))?"
)
_STREET_BEFORE = re.compile(
    # [house number,] Type particles Name words [, n°] [house number]    "12 rue de la Paix", "Via Roma 12"
    rf"(?<![\w\-.])(?:(?P<num>{_HOUSE}),?\s+)?(?i:(?:{_T_BEFORE}))\.?\s+(?:(?:{_PARTICLE})\s+|[lLdD]['’])*"
    rf"{_NAME_WORD}(?:[ \t-]+(?:(?:{_PARTICLE})\s+)*{_NAME_WORD}){{0,4}}"
    rf"(?P<after>,?\s*(?:n[º°o]\.?\s?|nr\.?\s?|no\.?\s?|número\s|numero\s|núm\.?\s?)?\d{{1,4}}(?:(?:[A-Za-z]|\s[A-Z])(?![\w]))?(?:\s?[-/]\s?\d{{1,5}}[A-Za-z]?)?"
    r"(?![\w]))?"
)
# Estonian abbreviated types, in lower case only ("TN40" is a British postcode): "Narva mnt 7-12", "Pärnu mnt 10"
_STREET_ESTONIAN = re.compile(rf"(?<![\w\-])(?:{_NAME_WORD}[ \t]+){{1,3}}(?:mnt|tn|pst)\.?[ \t]+(?!0){_HOUSE}(?![\w])")
_STREET_SUFFIX = re.compile(
    # Name words ending in a Germanic/Nordic type, then the house number: "Karl Johans gate 22", "Hauptstr. 5"
    rf"(?<![\w\-])(?:{_NAME_WORD}[ \t]+){{0,3}}(?:{_UP}[\w'’\-]*?(?:{_SUFFIX})|(?:{_NAME_WORD}[ \t]+)(?i:{_SUFFIX}))"
    rf"(?<=\w|\.)[ \t]*,?[ \t]*(?:(?:No|Nr|č)\.?[ \t]*:?[ \t]*)?(?!0){_HOUSE}(?:[ \t]+[A-Z](?![\w]))?"
    rf"(?:[ \t]+\d{{1,3}}(?![\w]))?(?![\w])",
)
# a building, estate or area by its name, next to an address: "Wendover House", "Sakura Heights 302", "St Brigid's
# Nursing Home", "Shanti Niketan Society"; "Résidence Les Tilleuls", "Cité des Fleurs", "Colonia Roma Norte",
# "Ward Da Kao", "District 1", "Tehsil Gyanpur"
_BUILDING_AFTER = re.compile(
    rf"(?<![\w\-])(?:{_NAME_WORD}[ \t]+(?:(?:{_PARTICLE})[ \t]+)?){{1,4}}"
    r"(?:House|Court|Heights|Lodge|Cottage|Manor|Hall|Farm|Tower|Towers|Mansions|Apartments|Apts|Residency|"
    r"Residences|Society|Complex|Plaza|Centre|Center|Estate|Gardens|Nursing[ \t]Home|Care[ \t]Home|Building|"
    r"Chambers|Villas|Enclave|Vihar|Nagar|Colony|Layout|Condominium|Condo|Rectory|Barn|Mill)\b"
    r"(?:[ \t]+[1-9]\d{0,3}[A-Z]?(?![\w.,]\d))?"
)
_BUILDING_BEFORE = re.compile(
    rf"(?<![\w\-])(?:Résidence|Residence|Cité|Lieu-dit|Colonia|Col\.|Barrio|Quartier|Urbanización|Urb\.|Conjunto|"
    rf"Condomínio|Edificio|Edifício|Edif\.|Torre|Ward|District|Sector|Tehsil|Taluk|Mandal|Dist\.|Khu|Village|"
    rf"Vill\.|Post[ \t]Office|Gram|Phường|Quận|"
    rf"Huyện|Moo|Tambon|Amphoe|Kelurahan|Kecamatan|Barangay|Brgy\.?|Bairro|Jardim|Vila|Parque|Setor|Núcleo|"
    rf"Residencial|Chácara|Sítio|Fazenda|Loteamento|Zorgcentrum|Verpleeghuis|Woonzorgcentrum|Pflegeheim|"
    rf"Seniorenheim|Altenheim|Seniorenresidenz|EHPAD|CHSLD|Palvelutalo|Hoivakoti|Kolej|Residencia|Lar|Casa[ \t]de[ \t]"
    rf"Repouso|Casa[ \t]di[ \t]Riposo|RSA|Dom[ \t]Seniora)[ \t]+"
    rf"(?:(?:{_PARTICLE}|les|des)[ \t]+)?(?:{_NAME_WORD}|\d{{1,3}})(?:[ \t]+(?:(?:{_PARTICLE}|les|des)[ \t]+)?"
    rf"(?:{_NAME_WORD}|\d{{1,3}})){{0,3}}"
)
# a Turkish neighbourhood, which needs no number: "Cumhuriyet Mahallesi", "Atatürk Mah."
_NEIGHBOURHOOD = re.compile(rf"(?<![\w\-])(?:{_NAME_WORD}[ \t]+){{1,3}}(?:Mahallesi|Mah\.|Mh\.)")
# Czech and Slovak streets named by an adjective, numbered "popisné/orientační": "Husova 1234/5", "Vinohradská 12"
_ADJECTIVE_STREET = re.compile(
    r"(?<![\w\-])[A-ZÁČĎÉĚÍŇÓŘŠŤÚŮÝŽ][a-záčďéěíňóřšťúůýž]+(?:ova|ová|ská|cká|ní|ého|ovo|ské|ská)"
    r"[ \t]+[1-9]\d{0,4}(?:/\d{1,4}[a-z]?)?(?![\w/])"
)
_PO_BOX = re.compile(
    r"(?<![\w-])(?i:P\.?\s?O\.?\s?Box|Post\s?Office\s?Box|GPO\s?Box|PO\s?Box|Locked\s?Bag|Private\s?Bag|PMB|"
    r"Postfach|Postboks|Postbox|Post\s?box|Box|B\.?P\.?|Boîte\s?Postale|Bo[iî]te\s?postale|Apartado(?:\s?de\s?correos)?|"
    r"Apdo\.?|Casella\s?Postale|C\.?P\.?|Caixa\s?Postal|Skrytka\s?pocztowa|skr\.\s?poczt|Postilokero|PL|Postbus|"
    r"Antwoordnummer|Case\s?postale|RR\s?\d{1,2}\s+Box|Rural\s+Route\s+\d{1,2}\s+Box)"
    r"\.?\s?(?:No\.?\s?|#\s?|nr\.?\s?)?(?:\d{2}(?:[ ]\d{2}){1,3}|\d{1,6})(?![\w])"  # "Postfach 10 12 44"
    # German parcel lockers and their customer number: "Packstation 118", "Postnummer 448120937"
    r"|(?<![\w-])(?:Packstation|Postfiliale)[ \t]?\d{1,4}(?![\w])|(?<![\w-])Postnummer:?[ \t]?\d{6,10}(?![\w])"
)
_MILITARY = re.compile(
    r"(?<![\w-])(?:(?:PSC|CMR|Unit|UMR)\s?\d{3,5},?\s+Box\s?\d{1,5}|(?:APO|DPO|FPO)\s+(?:AA|AE|AP)"
    r"|USNS\s+[A-Z][\w\-]+(?:\s+[A-Z][\w\-]+)?|USS\s+[A-Z][\w\-]+(?:\s+[A-Z][\w\-]+)?)(?![\w])"
)
_CARE_OF = re.compile(
    r"(?<![\w-])(?i:c/o|c\.o\.|care\s+of|p/a)[ \t]+[^\n,;]{2,60}"
    # "bei", "chez", "presso" mean c/o only where an address line starts: "bei Huber\nMariahilfer Straße 88"
    r"|(?m:^)[ \t]*(?:bei|chez|presso|aux soins de)[ \t]+(?:Fam\.?[ \t]+|Familie[ \t]+|famille[ \t]+)?"
    r"[A-ZÀ-Þ][^\n,;]{1,50}"
)
# German streets named with a preposition and no street type: "Am Mühlbach 9", "In der Aue 3a", "Zum Anger 12"
_STREET_PREP = re.compile(
    rf"(?<![\w-])(?:Am|An[ \t]der|An[ \t]den|Auf[ \t]der|Auf[ \t]dem|Im|In[ \t]der|In[ \t]den|Zum|Zur|Unter[ \t]den|"
    rf"Hinter[ \t]der|Vor[ \t]dem|Alte|Alter|Neue|Neuer|Na|Pod|Nad|Za|U|V|K|Ke|Ve)[ \t]+"
    rf"{_NAME_WORD}(?:[ \t\-]{_NAME_WORD})?[ \t]+"
    r"[1-9]\d{0,2}[a-z]?(?![\w.,]\d|\w)"
)

# a street named without a house number, after a preposition: "the flat on Cowley Rd", "lives off Mill Lane"
_STREET_NAMED = re.compile(
    rf"(?<![\w])(?:on|at|off|in|along|from)[ \t]+(?P<street>(?:{_NAME_WORD}[ \t]+){{1,3}}"
    r"(?:Road|Rd|Street|Avenue|Ave|Lane|Ln|Boulevard|Blvd|Crescent|Cres|Close|Terrace|Grove|Drive|Parkway|Highway|"
    r"Hwy)\b\.?)"
)
# a crossing of two streets: "Foothill Blvd & Baseline Rd", "Bağdat Caddesi ile Ethem Efendi Caddesi"
_CROSS_STREET = rf"(?:{_NAME_WORD}[ \t]+){{1,3}}(?:(?:{_T_AFTER})\b\.?|(?i:caddesi|cad\.|sokak|sokağı|sk\.|bulvarı))"
_CROSSING = re.compile(
    rf"(?<![\w\-])(?:[NSEW]\.?[ \t]+)?{_CROSS_STREET}[ \t]*(?:&|and|/|at|y|e|i|ile|und|et|@)[ \t]*"
    rf"(?:[NSEW]\.?[ \t]+)?{_CROSS_STREET}"
)
# "the 4400 block of S. Lamar Blvd" (a police report's way to place a house), "at number 46", "at no. 42"
_BLOCK_OF = re.compile(
    rf"(?<![\w\-])\d{{1,5}}[ \t]+block[ \t]+of[ \t]+(?:the[ \t]+)?(?:[NSEW]\.?[ \t]+)?{_CROSS_STREET}"
    r"|\b(?:at|to|for)[ \t](?P<number>(?i:number|no\.?|nr\.?)[ \t]*\d{1,4}[A-Za-z]?(?![\w])"
    r"(?![ \t]+(?:in|on|of|out|for|to)\b))"  # "at number 3 in the queue" is a place in a line
)
# a house number with a slash or a letter, then the address's parts after commas: "14/2A, Gandhi Road, ...",
# "47/12, Narhi, Lucknow", "221B, Baker Street"
_HOUSE_FIRST = re.compile(r"(?<![\w/.,\-])\d{1,4}(?:/\d{1,4}[A-Za-z]?|[A-Z])(?=,[ \t]*[A-ZÀ-Þ])")
# Turkish numbered streets: "1482 Sok. No:6", "7. Sokak No:15/3", "Gül sk. no 14"
_STREET_TR = re.compile(
    rf"(?<![\w\-])(?:(?:{_NAME_WORD}[ \t]+){{1,3}}|\d{{1,5}}\.?[ \t]+)(?i:sokak|sokağı|sok\.|sk\.|cadde|caddesi|cad\.|"
    r"cd\.|bulvarı|blv\.)(?:[ \t]*(?i:no)[:.]?[ \t]?\d{1,4}(?:/\d{1,3})?(?![\w]))?"
)
_HINTS = {
    "street-co": re.compile(r"#|(?i:\bno\.|n[º°])"),
    "street-jp": re.compile(r"\d-\d{1,3}-\d|-(?:ku|shi|cho|chō|machi|mura|gun|ken)\b"),
    "street-ee": re.compile(r"\b(?:mnt|tn|pst)\b"),
    "street-tr": re.compile(r"(?i)\b(?:sok|cad|cd\.|sk\.|bulvar|blv)"),
    "crossing": re.compile(r"(?:St|Rd|Ave|Av|Blvd|Street|Road|Avenue|Boulevard|Dr|Drive|Lane|Ln|Way|Hwy|Highway|Pkwy|"
                           r"Caddesi|Cad|Sokak|Sk|Bulvarı)\.?[ \t]*(?:&|and|/|at|@|ile|y|e|i|und|et)[ \t]"),
    "block-of": re.compile(r"(?i)\bblock[ \t]+of\b|\b(?:at|to|for)[ \t](?:number|no\.?|nr\.?)[ \t]*\d"),
}
# Colombian addresses: "Cra. 7 #45-12", "Calle 93 No. 11A-28"
_STREET_CO = re.compile(
    r"(?<![\w\-])(?i:Calle|Cl|Cll|Carrera|Cra|Kr|Ak|Ac|Avenida|Av|Diagonal|Dg|Transversal|Tv)\.?[ \t]+\d{1,3}[A-Z]?"
    r"(?:[ \t]?(?:Bis|Sur|Este))?[ \t]*(?:#|No\.?|N[º°])[ \t]*\d{1,3}[A-Z]?[ \t]?-[ \t]?\d{1,3}(?![\w])"
)
# Japanese addresses in Latin letters: "4-12-8 Minami-Aoyama", "Minato-ku, Tokyo"
_JAPANESE_ROMAN = re.compile(
    r"(?<![\w\-])\d{1,2}-\d{1,3}-\d{1,3}[ \t]+[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?(?![\w])"
    r"|(?<![\w\-])[A-Z][a-z]+-(?:ku|shi|cho|chō|machi|mura|gun|ken)(?![\w])"
)

# --- postal codes ---------------------------------------------------------------------------------------------

POSTCODES = {
    # shapes distinctive enough to stand on their own
    "uk": r"(?:GIR[ \t]?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?[ \t]?\d[ABD-HJLNP-UW-Z]{2})",
    "ca": r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ -]?\d[ABCEGHJ-NPRSTV-Z]\d",
    # an Eircode's last four hold a letter ("A65 F4E2"; "A123456" is a Hong Kong identity card number)
    "ie": r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W)[ \t]?(?=\d{0,3}[AC-FHKNPRTV-Y])[0-9AC-FHKNPRTV-Y]{4}",
    "nl": r"[1-9]\d{3}[ \t]?(?!SA|SD|SS|IU)[A-Z]{2}",
    "us4": r"\d{5}-\d{4}",
    "pl": r"\d{2}-\d{3}",
    "pt": r"\d{4}-\d{3}",
    "br": r"\d{5}-\d{3}",
    "jp": r"〒[ \t]?\d{3}-?\d{4}|\d{3}-\d{4}",
    "se": r"(?:SE-?[ \t]?)?\d{3}[ \t]\d{2}",
    "prefixed": r"(?:D|F|I|A|CH|NL|B|N|S|DK|FI|FIN|SE|NO|E|P|PL|L|LT|LV|EE|CZ|SK|H|HR|SI|GR)-[ \t]?\d{4,5}",
}
_POSTCODE = re.compile(
    r"(?<![\w\-/.,])(?:" + "|".join(f"(?:{p})" for k, p in POSTCODES.items()) + r")(?![\w\-/]|[.,]\d)"
)
# a plain 4-6 digit code is a postal code only next to a place: before a city or after a postcode keyword
# place words are letters only: "Reading RG1 2ST" is a city and a postcode, not a three-word city
# a place word ends at a full stop unless it is a short abbreviation ("St.", "Mt."): "Trondheim. Compliance" is a
# city and the next sentence
_PLACE_WORD = rf"(?:{_UP}[^\W\d_]{{1,2}}\.|{_UP}[^\W\d_]+(?:['’\-][^\W\d_]+)*(?![\w]))"  # 2+ letters
_CITY = (rf"(?:{_PLACE_WORD})"
         rf"(?:[ \t\-]+(?:(?:{_PARTICLE}|sur|am|an|der|im|upon|on|en)[ \t\-]+)?(?:{_PLACE_WORD})){{0,3}}")
_CODE_CITY = re.compile(
    rf"(?<![\w\-/.,$€£])(?P<zip>[1-9]\d{{3}}[ ]?[A-Z]{{2}}(?=[ \t]+[A-Z][a-z])|\d{{5}}-\d{{3}}|\d{{4,6}}|"
    rf"\d{{3}}\s\d{{2}}|\d{{2}}\s\d{{3}}|"
    rf"(?:{POSTCODES['prefixed']})|(?:{POSTCODES['pl']})|(?:{POSTCODES['pt']})|(?:{POSTCODES['se']}))"
    rf"(?:[ \t]+|[ \t]*[;|][ \t]*)(?P<city>{_CITY})"
)
_ZIP_KEYWORD = re.compile(
    r"(?i:\b(?:zip(?:\s?code)?|postcode|post\s?code|postal\s?code|pin(?:\s?code)?|plz|postleitzahl|code\s?postal|"
    r"cap|c\.p\.|cp|postnummer|postinumero|código\s?postal|codigo\s?postal|kod\s?pocztowy|cod\s?poștal|"
    r"cod\s?postal|irányítószám|posta\s?kodu|psč|邮编|郵便番号|우편번호|〒)|postal_?code|post_?code|zip_?code)"
    r"[\s.:#\"'=：]*"
    r"(?P<zip>[A-Z0-9]{2,5}(?:[ \-]?[A-Z0-9]{2,4})?)(?![\w])"
)
US_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI"
).split()
REGIONS = US_STATES + "AB BC MB NB NL NS NT NU ON PE QC SK YT NSW VIC QLD WA SA TAS ACT NT".split()
# "Springfield, IL 62704", "Toronto, ON M5V 2T6", "Sydney NSW 2000", "Mumbai 400001", "LONDON SW1A 1AA"
_CITY_CODE = re.compile(
    rf"(?P<city>{_CITY}),?[ \t]+(?:\(?(?P<region>{'|'.join(REGIONS)})\)?\.?,?[ \t]+)?(?:-[ \t]*)?"
    rf"(?P<zip>\d{{5}}(?:-\d{{4}})?|\d{{6}}|\d{{3}}\s\d{{3}}|\d{{4}}(?=[ \t]*(?:$|[\n,;.)(]))|"
    rf"{POSTCODES['uk']}|{POSTCODES['ca']}|"
    rf"{POSTCODES['ie']})(?![\w\-])",
    re.M,
)
# "Dublin 4", "Dublin D02 X285": Dublin postal districts
_DUBLIN = re.compile(r"\b(?:Dublin|DUBLIN)[ \t]+(?:\d{1,2}W?|6W)(?![\w])")

# words that end a place run: a country, or ordinary words that follow an address in a sentence
_STOP_PLACE = {
    "and", "or", "but", "the", "on", "at", "in", "for", "from", "to", "with", "is", "was", "until", "since",
    "tel", "phone", "email", "mob", "fax", "dob", "born", "id", "ref", "eircode", "postcode", "zip", "pin", "plz",
    "cap", "cp", "code", "box", "po",
}


_CITY_RE = re.compile(_CITY)
_STREET_TYPE_WORD = re.compile(rf"(?i)(?<![\w])(?:{_T_AFTER}|{_T_BEFORE})\.?(?![\w])|(?i:{_SUFFIX})(?![\w])")


def _place_run(text: str, at: int) -> int | None:
    """End of a run of place words (capitalized, or all capitals) starting at `at` on the same line, or None."""
    m = _CITY_RE.match(text, at)
    if not m:
        return None
    words = list(re.finditer(r"\S+", m.group(0)))
    while words and words[-1].group(0).lower().strip(".") in _STOP_PLACE:
        words.pop()
    if not words:
        return None
    end = at + words[-1].end()
    # its province or state: "Milano (MI)", "Montréal (QC)", "Curitiba/PR", "São Paulo / SP"
    region = re.match(rf"[ \t]*(?:\([A-Z]{{2,3}}\)|\({_PLACE_WORD}\)|/[ \t]?[A-Z]{{2}}(?![\w])|/[ \t]?{_PLACE_WORD})",
                      text[end:])  # "Montréal (Québec)", "Konak/İzmir", "Merkez/ELAZIĞ"
    if region:
        return end + region.end()
    # its district or sorting office, where the line or sentence ends: "Torino TO", "København V", "Cedex 9"
    district = _DISTRICT.match(text, end)
    return district.end() if district else end


_DISTRICT = re.compile(
    r"[ \t]+(?:[A-Z]{1,2}|(?i:cedex)(?:[ \t]+\d{1,2})?|\d{1,2})(?=[ \t]*(?:$|[\n,;)]|\.(?:\s|$)))", re.M
)


_NUMBER_AFTER = re.compile(
    r"#[ \t]?\d{1,5}[A-Za-z]?(?![\w\-])|(?:no|No|Nr|nr|n[º°])[.:]?[ \t]?\d{1,4}[A-Za-z]?(?:/\d{1,3})?(?![\w\-])"
)
# Indian addresses place a house by its landmark
_LANDMARK = re.compile(r"(?i:behind|near|nr\.|opp\.?|opposite|beside|next[ \t]to|off)[ \t]+(?=[A-Z])")
_IN_CITY = re.compile(r",?[ \t]+(?:in|en|à|a|i|im|in der|w|we|v|ve)[ \t]+(?=[A-ZÀ-Þ])")


def _tail(text: str, end: int) -> int:
    """Extend a street over what follows it on its line: ", Indiranagar, Bengaluru 560038", ", Apt 4B"."""
    while True:
        m = re.match(r"[ \t]+[-–][ \t]+|[ \t]*,?[ \t]*", text[end:])  # "Rua das Flores, 123 - Apto 45 - Centro"
        at = end + m.end()
        if at >= len(text) or text[at] == "\n" or m.end() == 0:
            return end
        unit = _UNIT.match(text, at) or _NUMBER_AFTER.match(text, at)
        if unit:  # "Apt 4B", "#214", "no. 214" after the street
            end = unit.end()
            continue
        landmark = _LANDMARK.match(text, at)
        if landmark and (run := _place_run(text, landmark.end())) is not None:
            end = run  # "Behind Sri Venkateswara Swamy Temple", "near Shiv Mandir", "Opp. Vastrapur Lake"
            continue
        if _POSTCODE.match(text, at) or re.match(r"\d{4,6}(?![\w\-])", text[at:]):
            return end  # the postal code is a ZIP hit of its own
        connector = _IN_CITY.match(text, end)
        if connector:  # "1503 Elmwood Avenue in Evanston", "Lindenallee 23 in Essen"
            run = _place_run(text, connector.end())
            return run if run is not None else end
        run = _place_run(text, at)
        if run is None or not re.search(r"[,\-–]", text[end:at]):
            return end
        end = run


# a street written in lower case, as in a chat: "44 birch lane", "flat 2 / 17 queen st", "1127 w 9th st"
_LOWER_STREET = re.compile(
    r"(?<![\w.,/\-])[1-9]\d{0,4}[a-z]?[ \t]+(?:(?:n|s|e|w|ne|nw|se|sw)\.?[ \t]+)?"
    r"(?P<words>(?:(?:[a-zà-ÿ][a-zà-ÿ'’\-]+|\d{1,3}(?:st|nd|rd|th))[ \t]+){1,3})"
    r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|boulevard|blvd|crescent|cres|terrace|tce|grove|close|court|ct|"
    r"parade|highway|hwy|place|pl|way|circle|cir|trail|parkway|pkwy)\b"  # no full stop: it ends the sentence
)
# lower-case streets named first, with the house number after ("via dei mille 14", "rua dos pinheiros 870",
# "c/ san bernardo 45") or before ("1220 rue st-jean"), and lower-case compounds ("ringvägen 7a", "oudegracht 187")
_LOWER_STREET_BEFORE = re.compile(
    rf"(?<![\w])(?:via|viale|corso|piazza|rua|travessa|praça|rue|calle|c/|avenida|carrer|ulica|ul\.|strada|"
    rf"straße|gatan)[ \t]+(?:(?:{_PARTICLE})[ \t]+)*[a-zà-ÿ][a-zà-ÿ'’\-]+(?:[ \t]+(?:(?:{_PARTICLE})[ \t]+)?"
    rf"[a-zà-ÿ][a-zà-ÿ'’\-]+){{0,2}},?[ \t]+\d{{1,4}}[a-z]?(?:/\d{{1,4}})?(?![\w])"
    rf"|(?<![\w.,/\-])[1-9]\d{{0,4}},?[ \t]+(?:rue|avenue|av\.|boulevard|boul\.?|chemin|ch\.|route|rang|calle|"
    rf"avenida|rua)[ \t]+(?:(?:{_PARTICLE})[ \t]+)*[a-zà-ÿ][a-zà-ÿ'’\-]+"
    rf"(?:[ \t]+(?!(?:apt|app|apto|unit|flat|suite|ap|int|depto|bureau)\b)[a-zà-ÿ][a-zà-ÿ'’\-]+){{0,2}}"
    r"|(?<![\w\-])[a-zà-ÿ]{3,}(?:gatan|vägen|gata|gate|veien|vegen|vej|vejen|gade|straat|gracht|weg|laan|kade|"
    r"straße|strasse|gasse|allee|katu|tie|utca)[ \t]+[1-9]\d{0,3}[a-z]?(?:[ \t]?bis)?(?:/\d{1,4})?(?![\w])"
)
_NOT_STREET_WORDS = frozenset(
    "the a an of to in on at for by down up along across over from with and or my his her our their this that "
    "these those blocks block miles mile km minutes hours times steps doors houses cars people days weeks".split()
)
# what follows a lower-case street: its unit, then its town (and state) before a postal code or the clause's end
_LOWER_UNIT = re.compile(
    r"[ \t]*,?[ \t]*(?:(?:apt|apartment|unit|flat|suite|ste|app|apto|ap|int|depto|#)\.?[ \t]?[a-z0-9]{1,5}"
    r"|\d{1,2}(?:st|nd|rd|th)[ \t]+(?:fl|floor)|upper|lower|basement|bsmt|\d{1,2}\.?[ºª°][ \t]?(?:izq|izda|dcha|"
    r"dto|esq|[a-z])?\.?|(?:primo|secondo|terzo|quarto|quinto|sesto|ultimo)[ \t]+piano|piano[ \t]+\d{1,2})(?![\w])"
)
_LOWER_STATES = "|".join(s.lower() for s in REGIONS if len(s) == 2)
_NOT_PLACE_WORDS = frozenset(
    "and or but so then the a i we he she it they you my your his her our their is was are be pls please plz can "
    "will would could should lol ok okay thanks thx tomorrow today tonight now just if when where which who that "
    "this there here near next by from to at in on for with gate code door buzz ring call text not no yes citofono "
    "interfone digicode buzzer intercom bell klingel".split()
)
_LOWER_PLACE = re.compile(
    # "..., 85231 sundsvall", "..., 3511 NH utrecht": a postal code before the town (a ZIP hit of its own)
    rf"(?:[ \t]*,[ \t]*|[ \t]+in[ \t]+)"
    rf"(?:(?:\d{{3}}[ ]?\d{{2}}|\d{{4}}[ ]?[A-Z]{{2}}|\d{{4,5}}|\d{{2}}-\d{{3}})[ \t]+)?"
    rf"(?P<place>[a-zà-ÿ][a-zà-ÿ'\-]+(?:[ \t]+[a-zà-ÿ][a-zà-ÿ'\-]+){{0,2}}?)"
    rf"(?:,?[ \t]+(?:{_LOWER_STATES})\.?)?"
    r"(?=[ \t]*,?[ \t]*(?:\d{5}(?:-\d{4})?|\d{3}[ ]?\d{2}|\d{4}[ ]?[a-zA-Z]{2}|[a-z]{1,2}\d{1,2}[a-z]?[ ]?\d[a-z]{2}|"
    r"[a-z]\d[a-z][ ]?\d[a-z]\d)(?![\w])|[ \t]*(?:[.!?\n]|$|,[ \t]))",
    re.I,
)


_LOWER_PLACE_STATE = re.compile(
    rf"[ \t]+(?P<place>[a-zà-ÿ][a-zà-ÿ'\-]+(?:[ \t]+[a-zà-ÿ][a-zà-ÿ'\-]+){{0,2}}?)[ \t]+(?:{_LOWER_STATES})\.?"
    r"(?=[ \t]*,?[ \t]*(?:\d{5}|[a-z]\d[a-z][ ]?\d[a-z]\d)(?![\w]))",
    re.I,
)
_LOWER_CODE = re.compile(r"[ \t]*,?[ \t]*(?P<zip>\d{3}[ ]?\d{2}|\d{4}[ ]?[A-Z]{2}|\d{4,5}|\d{2}-\d{3})[ \t]+")


def _lower_tail(text: str, end: int) -> int:
    """Extend a lower-case street over its unit and town: "1127 w 9th st apt b, tempe az" (85281 is a ZIP)."""
    while unit := _LOWER_UNIT.match(text, end):
        end = unit.end()
    place = _LOWER_PLACE.match(text, end) or _LOWER_PLACE_STATE.match(text, end)
    if place and not set(place.group("place").lower().split()) & _NOT_PLACE_WORDS:
        return place.end()
    return end


def _lower_codes(text: str, start: int, end: int) -> Iterator[Hit]:
    """The postal code inside a lower-case street's tail ("ringvägen 7a, 85231 sundsvall"), as a ZIP hit."""
    if m := _LOWER_CODE.search(text, start, end):
        yield m.start("zip"), m.end("zip"), "ZIP", 0.7, "address:code-in-street"


def streets(text: str) -> Iterator[Hit]:
    """Street lines (with the places after them on the line), units, c/o lines, PO boxes, military addresses."""
    for pattern, name in ((_STREET_AFTER, "street"), (_STREET_BEFORE, "street-type-first"),
                          (_STREET_SUFFIX, "street-compound")):
        for m in pattern.finditer(text):
            if name == "street-type-first" and not (m.group("num") or m.group("after")):
                continue  # "place of birth", "via email": a street type without a house number is no address
            yield m.start(), _tail(text, m.end()), "ADDRESS", 0.85, f"address:{name}"
    for pattern, name in ((_BUILDING_AFTER, "building"), (_BUILDING_BEFORE, "area")):
        for m in pattern.finditer(text):
            if _near_address(text, m):
                yield m.start(), _tail(text, m.end()), "ADDRESS", 0.7, f"address:{name}"
    for m in _HOUSE_FIRST.finditer(text):
        end = _tail(text, m.end())
        if end > m.end() + 3 and (_near_address(text, m) or text.count(",", m.end(), end) >= 2):
            yield m.start(), end, "ADDRESS", 0.7, "address:house-first"
    for m in _STREET_NAMED.finditer(text):
        if not _is_unit_or_month(m.group("street")):
            yield m.start("street"), _tail(text, m.end()), "ADDRESS", 0.7, "address:street-named"
    for pattern, name in ((_STREET_CO, "street-co"), (_JAPANESE_ROMAN, "street-jp"), (_STREET_ESTONIAN, "street-ee"),
                          (_STREET_TR, "street-tr"),
                          (_CROSSING, "crossing"), (_BLOCK_OF, "block-of")):
        if (hint := _HINTS.get(name)) is not None and not hint.search(text):
            continue  # a cheap look first: most texts hold no such address
        for m in pattern.finditer(text):
            if name == "block-of" and m.group("number"):
                yield m.start("number"), m.end(), "ADDRESS", 0.8, f"address:{name}"
                continue
            if name == "street-jp" and m.group(0)[0].isdigit() and not _near_address(text, m) \
                    and not _JAPANESE_ROMAN.search(text, m.end(), m.end() + 60):
                continue  # "ratio 12-3-4 Mixed": a chōme-ban-gō only with its ward or in an address
            yield m.start(), _tail(text, m.end()), "ADDRESS", 0.8, f"address:{name}"
    for pattern in (_LOWER_STREET, _LOWER_STREET_BEFORE):
        for m in pattern.finditer(text):
            if m.groupdict().get("words") and set(m.group("words").split()) & _NOT_STREET_WORDS:
                continue
            end = _lower_tail(text, m.end())
            yield m.start(), end, "ADDRESS", 0.6, "address:street-lower"
            yield from _lower_codes(text, m.end(), end)
    for m in _NEIGHBOURHOOD.finditer(text):
        yield m.start(), _tail(text, m.end()), "ADDRESS", 0.75, "address:neighbourhood"
    for m in _ADJECTIVE_STREET.finditer(text):
        if _near_address(text, m):
            yield m.start(), _tail(text, m.end()), "ADDRESS", 0.75, "address:street-adjective"
    for m in _STREET_PREP.finditer(text):
        if _near_address(text, m) and not re.match(r"\s*(?:Jahr|Alter|Monat|Woche|Tag)", text[m.start() + 3:]):
            yield m.start(), _tail(text, m.end()), "ADDRESS", 0.75, "address:street-preposition"
    for pattern, name in ((_UNIT, "unit"), (_PO_BOX, "po-box"), (_MILITARY, "military"), (_CARE_OF, "c/o"),
                          (_DUBLIN, "dublin-district")):
        for m in pattern.finditer(text):
            if name == "po-box" and m.group(0)[:2].upper() in ("PL", "CP", "BP", "C.") and not _near_address(text, m):
                continue  # short box words are box words only inside an address
            if name == "unit" and m.group(0)[:2].lower() in ("we", "to", "lo", "sh", "of", "ho", "pl", "do", "bl",
                                                                 "ap", "sc", "ca", "ga", "h0", "h1", "ii", "iv", "vi",
                                                                 "xi", "i/", "v/", "x/", "n.", "nº", "n°", "as", "po",
                                                                 "d:", "d.", "ba", "pr", "se", "te", "qu", "ca", "cu",
                                                                 "r/", "ha", "st", "pi", "se", "qu", "ul") \
                    and not _near_address(text, m):
                continue
            if name == "unit" and re.fullmatch(r"\d{1,2}\.?[ºª°]", m.group(0)) and not re.search(
                    r"\d{1,5}[A-Za-z]?[ \t]*,?[ \t]*$", text[max(0, m.start() - 8):m.start()]):
                continue  # "16º" alone is an ordinal; after a house number it is the floor
            if name == "unit" and re.match(r"(?i)(?:ap|as|bl|sc|pok|avd)[a-z]", m.group(0)):
                continue  # "APY", "ASAP": a short unit word needs a full stop or a space before its number
            if name == "unit" and re.fullmatch(r"[A-Z]{2}\s?\d{5}", m.group(0)) and m.group(0)[:2] in US_STATES:
                continue  # "MIAMI FL 33173": a state and its ZIP, not floor 33173
            end = m.end()
            if name in ("unit", "po-box") and not _WEAK_UNIT.match(m.group(0)):
                end = _tail(text, end)  # "Flat 14, Wendover House, Thurlow Street, London"
            yield m.start(), end, "ADDRESS", 0.8, f"address:{name}"


# unit words that also count rooms, floors and doors of any building: never the start of a street line
_WEAK_UNIT = re.compile(r"(?i)(?:room|rm|floor|fl|level|lvl|door|bus|top|lot|shop|office|int|we|stg|\d)\b")


def _near_address(text: str, m: re.Match[str]) -> bool:
    """Whether a weak address word sits in an address: a street, postcode or box within its line or the next
    (and within 200 characters)."""
    lo = text.rfind("\n", 0, max(0, text.rfind("\n", 0, m.start())))
    next_line = text.find("\n", m.end())
    hi = len(text) if next_line < 0 else text.find("\n", next_line + 1)
    # at most 200 characters each side: a text without line breaks is one long line
    window = text[max(0, lo, m.start() - 200):min(len(text) if hi < 0 else hi, m.end() + 200)]
    return bool(_STREET_AFTER.search(window) or _STREET_SUFFIX.search(window) or _POSTCODE.search(window)
                or _ADDRESS_WORD.search(window) or _STREET_BEFORE.search(window) or _CODE_CITY.search(window))


# a line that says it holds an address: "Address:", "Anschrift", "domicilio", "lives at"
_ADDRESS_WORD = re.compile(
    r"(?i)\b(?:address|addr|adresse?|anschrift|wohnort|wohnhaft|domicile|domicilio|domiciliu|dirección|direccion|"
    r"endereço|endereco|morada|indirizzo|residenza|adres|osoite|bydliště|adresa|cím|lives\s+at|living\s+at|"
    r"resides\s+at|resident\s+at|ship\s+to|deliver\s+to|mailing|billing|residence|home|bor\s+i|bor\s+på|"
    r"village|vill\.|tehsil|taluka?|mandal|dist\.)\b"
)


def postcodes(text: str) -> Iterator[Hit]:
    """Postal codes (ZIP) and the cities next to them (ADDRESS)."""
    for m in _POSTCODE.finditer(text):
        yield m.start(), m.end(), "ZIP", 0.75, "address:postcode"
    for m in _CODE_CITY.finditer(text):
        city = m.group("city")
        if city.split()[0].lower().strip(".") in _STOP_PLACE or _is_unit_or_month(city) \
                or _STREET_TYPE_WORD.search(city) or (len(m.group("zip")) == 4 and re.fullmatch(r"[A-Z]{2}", city)):
            continue  # "3901 Old Hickory Blvd" is a house number and a street, not a postal code and a city
        if re.match(r"[ \t]*[:=]", text[m.end("city"):]):
            continue  # "... 2256   Exp: 09/27": the next field's label, not a city
        yield m.start("zip"), m.end("zip"), "ZIP", 0.8, "address:postcode-city"
        end = _place_run(text, m.start("city")) or m.end("city")
        yield m.start("city"), end, "ADDRESS", 0.75, "address:city"
    for m in _CITY_CODE.finditer(text):
        city = m.group("city")
        if m.start("city") and text[m.start("city") - 1] in "-/":
            continue  # "B-AV 4417": the end of a number plate or code, not a city and its postcode
        pin = len(m.group("zip")) == 6 and "-" in text[m.end("city"):m.start("zip")]  # "Bengaluru - 560003"
        if city.split()[0].lower().strip(".") in _STOP_PLACE or _is_unit_or_month(city) \
                or (not m.group("region") and not pin and not _near_address(text, m)
                                        and not re.fullmatch(r"[A-Z\s\-]+", city)):
            continue  # "Chapter 12345", "Invoice 400001": a capitalized word and a number is not enough alone
        yield m.start("zip"), m.end("zip"), "ZIP", 0.8, "address:city-postcode"
        end = m.end("region") + (text[m.end("region"):m.end("region") + 1] == ")") if m.group("region") \
            else m.end("city")
        yield _city_before(text, m.start("city")), end, "ADDRESS", 0.7, "address:city"
    for m in _ZIP_KEYWORD.finditer(text):
        if any(c.isdigit() for c in m.group("zip")):
            yield m.start("zip"), m.end("zip"), "ZIP", 0.85, "address:zip-keyword"


def _city_before(text: str, start: int) -> int:
    """Where a province's line starts with its city: "Vijayawada, Andhra Pradesh - 520003" (else `start`)."""
    line = text.rfind("\n", 0, start) + 1
    m = re.search(rf"(?:^|(?<=,))[ \t]*({_CITY}),[ \t]*$", text[line:start])
    if m and not _STREET_TYPE_WORD.search(m.group(1)) and m.group(1).split()[0].lower() not in _STOP_PLACE:
        return line + m.start(1)
    return start


_MONTHS_ETC = re.compile(
    r"(?i)^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun|mg|mcg|ml|kg|g|mmol|"
    r"units?|tablets?|pills?|doses?|days?|weeks?|months?|years?|hours?|minutes?|euros?|dollars?|kr|nok|sek|dkk|"
    r"eur|usd|gbp|chf|steps|patients?|records?|items?|orders?)\b"
)


def _is_unit_or_month(words: str) -> bool:
    """'January 2024', '9. Oktober 1947', '500 mg': a month or a unit, not a city after or before a code."""
    first = words.split()[0].strip(".,").casefold() if words.split() else ""
    return bool(_MONTHS_ETC.match(words)) or first in MONTHS or first in WEEKDAYS


def blocks(text: str, found: list[Hit]) -> Iterator[Hit]:
    """The lines of an address block after a street or box line: a line of place words (and a postal code)."""
    street_lines = {text.count("\n", 0, s) for s, _, e, _, _ in found if e == "ADDRESS"}
    lines = text.split("\n")
    offset = 0
    starts = []
    for line in lines:
        starts.append(offset)
        offset += len(line) + 1
    for n in sorted(street_lines):
        for k in (n + 1, n + 2):
            if k >= len(lines):
                break
            line = lines[k]
            stripped = line.strip()
            if not stripped or len(stripped) > 60:
                break
            at = starts[k] + len(line) - len(line.lstrip())
            if _POSTCODE.match(text, at):
                continue  # a postcode line ("RG1 2ST") is a ZIP hit; the city may follow on the next line
            run = _place_run(text, at)
            if run is not None and run - at >= len(stripped.rstrip(",. ")) - 12:
                yield at, run, "ADDRESS", 0.7, "address:block-line"
            elif not _POSTCODE.search(line):
                break


# a field that holds an address or its city, whatever the format: "Address: House 27, Street 9, Block F, Model Town,
# Lahore", "addr: 12F., No. 7, Sec. 5, Xinyi Rd.", "City: Brooklyn", "Localidad: Mijas (Málaga)"
_ADDRESS_FIELD = re.compile(
    r"(?im)(?:^|(?<=[\t|;&?])|(?<=[ ]{2})|(?<=[.,] ))[ \t]*(?<![\w-])(?:(?:home|current|postal|mailing|residential|"
    r"previous|billing|delivery|shipping|new|permanent|correspondence|registered|"
    # any other word before "address" ("Indian address:", "Overseas address:"), but not an email's or a computer's
    r"(?!(?:e-?mail|ip|web|mac|wallet|url|internet|bitcoin|ethereum|crypto|server|network|memory)\b)"
    r"[^\W\d_]{2,15}(?=[ \t]+(?:address|adresse|adres|adresa|adressen|dirección|indirizzo|endereço)\b))[ \t]+)?"
    r"(?:address(?:[ \t]+line[ \t]*\d)?|addr\d?|adresse|anschrift|wohnort|domicilio|dirección|direccion|endereço|"
    r"endereco|morada|indirizzo|residenza|adres|osoite|kotiosoite|bydliště|adresa|cím|heimilisfang|domicile|"
    r"domiciliu|residence|city|town|ort|stadt|ville|ciudad|città|plaats|kaupunki|localidad|località|localité|"
    r"cidade|county|province|provincia|bundesland|state|postort|poststed|by|"
    # in other scripts: Japanese, Chinese, Korean, Russian/Ukrainian, Hebrew, Hindi, Greek, Vietnamese, Thai, Arabic
    r"住所|地址|住址|주소|адрес|адреса|адресa|כתובת|पता|διεύθυνση|địa[ \t]chỉ|ที่อยู่|العنوان|adresi)"
    # a qualifier after the label ("Adres zamieszkania:", "Address of loss:", "Domicilio (se diverso):")
    r"(?:[ \t]+(?:of[ \t]+)?[^\W\d_]{2,15})?(?:[ \t]*\([^)\n]{1,30}\))?"
    r"[ \t]*[:=：][ \t]*(?:\n[ \t]*)?"
    r"(?P<value>[^\n]{2,120}?)"
    # the value ends at the next label, a separator, a sentence end (not an abbreviation's full stop: "ul.",
    # "Opp.", "St."), or the line's end
    r"(?=[ \t]{2,}[^\W\d_][\w .'/-]{0,30}[:=]|[ \t]*[|;&]"
    r"|(?<![\s.,(=:][^\W\d_])(?<![\s.,(=:][^\W\d_]{2})(?<![\s.,(=:][^\W\d_]{3})(?<!\d)"
    r"[.][ \t]+(?-i:[A-Z]|[^\W\d_a-zß-ÿ])"
    r"|(?<=\d{4})[.][ \t]+(?-i:[A-Z])"  # "..., Gujarat 380015. Overseas address: ..."
    r"|[ \t]*$|\n)"
)
# the same in JSON: {"line1": "Plot 14, Admiralty Way", "city": "Lagos"}
_ADDRESS_JSON = re.compile(
    r"(?i)[\"'](?:line_?[12]|address(?:_?line)?_?\d?|addr_?\d?|street(?:_?address)?|address_?\d|city|town|"
    r"county|district|locality|suburb|neighbou?rhood|province|poststed|postort|ort|stadt|ville|ciudad|cidade|città|"
    r"plaats|woonplaats|municipality|gate(?:adresse)?|gatuadress|straat|strasse|straße|rue|calle|rua|via|adresse|"
    r"adres|adresa|indirizzo|direccion|dirección|endereco|endereço|morada|osoite|kaupunki)[\"']"
    r"[ \t]*:[ \t]*[\"'](?P<value>[^\"'\n]{2,120})[\"']"
)
# an address after a phrase that says one follows, with no colon: "lives at Rose Cottage, Mill Lane, ..."
_ADDRESS_CUE = re.compile(
    r"(?i)\b(?:moved[ \t]+from|relocated[ \t]+from|resident[ \t]+of|"
    r"lives|living|resides|residing|resident|staying|stays|moved|relocated|domiciled|found|located|"
    r"ship(?:ped)?|deliver(?:ed)?|send|sent|mail(?:ed)?|address(?:ed)?|wohnt|wohnhaft|demeurant|domicilié[e]?|"
    r"résidant|residente|wonende|woonachtig|bor|live|wohne|wohnen|lebe|moro|vivo|habite|habito|abito|woon|"
    r"mieszkam|bydlím|asun)[ \t]+"
    # "staying with me at", "lives with her son at"
    r"(?:with[ \t]+(?:me|us|him|her|them|(?:my|his|her|their|our)[ \t]+[a-z\-]{2,15})[ \t]+)?"
    r"(?:at|to|in|on|from|à|a|en|in der|im|på|i|op|na|no|em)?[ \t]*"
    r"(?P<value>(?-i:[A-Z0-9À-Þ])[^\n;()]{2,120}?)"
    r"(?=(?<![\s.,(][^\W\d_])(?<![\s.,(][^\W\d_]{2})(?<![\s.,(][^\W\d_]{3})[.!?][ \t]|[.!?]?$|[;()\n]|"
    r"[ \t,]+(?:and|but|with|since|for|who|where|which|by|until|last|next|this|from|und|seit|bis|ab|et|depuis|"
    r"jusqu|y|desde|hasta|e|da|dal|fino|en|sinds|tot|og|siden|och|sedan)[ \t])",
    re.M,
)


_CODE_AFTER = re.compile(r"[ \t]*[,\-–]?[ \t]*(?P<zip>\d{4,6}|\d{3}[ ]\d{2}|\d{2}-\d{3})(?![\w\-/]|[.,]\d)")


def fields(text: str) -> Iterator[Hit]:
    """The value of a field that holds an address or a city, and an address after a phrase that announces one."""
    for pattern, name in ((_ADDRESS_FIELD, "field"), (_ADDRESS_JSON, "json-field"), (_ADDRESS_CUE, "after-cue")):
        for m in pattern.finditer(text):
            value = m.group("value").rstrip(" \t.,")
            if "\n" in text[m.start():m.start("value")] and _LABEL.match(value):
                continue  # "Address:" with nothing after it, then the next field's label
            if not re.search(r"[^\W\d_]{2}", value) \
                    or value.lower() in ("same as above", "n/a", "none", "unknown", "-", "null", "same"):
                continue
            code = re.search(r"[ \t]*[,\-–]?[ \t]*(?<![\w\-])(\d{4,6})$", value)
            if code and name == "field" and code.start() > 0:  # "..., м. Київ, 01001": the postal code
                yield m.start("value") + code.start(1), m.start("value") + code.end(1), "ZIP", 0.7, \
                    f"address:{name}-code"
            if name == "after-cue":
                if re.match(r"\d{1,3}(?:\.\d{1,3}){3}(?!\d)|[\w.+\-]+@", value):
                    continue  # "Sent from 37.162.143.94 ...", "mailed to ana@...": an IP or email address follows
                value = _drop_trailing_words(value)
                if not _looks_like_address(value):
                    continue  # "lives at home with her daughter", "moved to Spain last year"
            yield m.start("value"), m.start("value") + len(value), "ADDRESS", 0.7, f"address:{name}"


_LABEL = re.compile(r"[^\W\d_][\w .'/-]{0,30}[:=：]")
_STREET_WORDS = {w.lower().rstrip(".") for w in TYPES_AFTER + TYPES_BEFORE + SUFFIXES}


def _drop_trailing_words(value: str) -> str:
    """'12 Main Street now' -> '12 Main Street': lower-case words after an address are the sentence's again."""
    while m := re.search(r"[ \t,]+([a-zà-ÿ]+)$", value):
        if m.group(1) in _STREET_WORDS or _UNIT.fullmatch(m.group(1)):
            break
        value = value[:m.start()]
    return value


def without_postcodes(hits: list[Hit]) -> list[Hit]:
    """Field and cue values minus the postal codes found inside them: the codes stay ZIP spans of their own and
    the rest of the value ADDRESS ("Storgata 18, 0184 Oslo" -> "Storgata 18", ZIP "0184", "Oslo")."""
    codes = sorted((s, e) for s, e, entity, _, _ in hits if entity == "ZIP")
    out: list[Hit] = []
    for start, end, entity, score, name in hits:
        if entity != "ADDRESS" or name.split(":")[-1] not in ("field", "json-field", "after-cue", "street-lower"):
            out.append((start, end, entity, score, name))
            continue
        at = start
        for cs, ce in codes:
            if cs >= end or ce <= at:
                continue
            if cs > at:
                out.append((at, cs, entity, score, name))
            at = max(at, ce)
        if at < end:
            out.append((at, end, entity, score, name))
    return out


def _looks_like_address(value: str) -> bool:
    """A house number, unit, box, street type or postal code: what a place name alone does not have."""
    return bool(re.search(r"\d", value) and (
        _STREET_AFTER.search(value) or _STREET_BEFORE.search(value) or _STREET_SUFFIX.search(value)
        or _UNIT.search(value) or _PO_BOX.search(value) or _POSTCODE.search(value)
        or re.match(r"\d{1,5}[A-Za-z]?\b[ ,]", value)))


def find(text: str) -> list[Hit]:
    """Every address and postal-code hit in `text`."""
    if not text:
        return []
    hits = list(streets(text))
    hits.extend(postcodes(text))
    hits.extend(fields(text))
    hits.extend(blocks(text, hits))
    # a 4-6 digit code right after an address part is its postal code: "Madrid 28013", "Via Roma 12, 00184",
    # "Auckland 1062" on the last line of a block
    for _start, end, entity, _, _ in list(hits):
        if entity == "ADDRESS" and (m := _CODE_AFTER.match(text, end)):
            hits.append((m.start("zip"), m.end("zip"), "ZIP", 0.7, "address:code-after-address"))
    hits.extend(script_addresses.find(text))
    return _trimmed(text, without_postcodes(hits))


def _trimmed(text: str, hits: list[Hit]) -> list[Hit]:
    """Hits without the separators and spaces at their edges; those left with no letter or digit dropped."""
    out = []
    for start, end, entity, score, name in hits:
        while start < end and text[start] in " \t,;-–/":
            start += 1
        while end > start and text[end - 1] in " \t,;-–/(":
            end -= 1
        if any(c.isalnum() for c in text[start:end]):
            out.append((start, end, entity, score, name))
    return out
