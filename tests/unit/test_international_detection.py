"""The recognizers for formats of many countries (addresses.py, phones.py, identifiers.py, temporal.py, names.py
with lexicon.py), through the detector: each example must be covered by a span of the right type, and ordinary
text next to it must be left alone. Figures on whole labelled sets are bench/privacy_eval.py's."""

from __future__ import annotations

import pytest

from datavault_dagster.domain.detect import Detector


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector().load()


def _found(detector: Detector, text: str) -> list[tuple[str, str]]:
    return [(text[s.start:s.end], s.entity) for s in detector.detect(text)]


def _covered(detector: Detector, text: str, value: str, entity: str) -> bool:
    start = text.index(value)
    return any(s.start <= start and start + len(value) <= s.end and s.entity == entity
               for s in detector.detect(text))


@pytest.mark.parametrize(("text", "value", "entity"), [
    ("Send it to Karl Johans gate 22, 0159 OSLO please.", "Karl Johans gate 22", "ADDRESS"),
    ("Send it to Karl Johans gate 22, 0159 OSLO please.", "0159", "ZIP"),
    ("Send it to Karl Johans gate 22, 0159 OSLO please.", "OSLO", "ADDRESS"),
    ("She lives at 12 rue de la Paix, 75002 Paris.", "12 rue de la Paix", "ADDRESS"),
    ("Adresse: Mariahilfer Straße 88A/2/14, 1070 Wien", "Mariahilfer Straße 88A/2/14", "ADDRESS"),
    ("ul. Marszałkowska 10/12, 00-590 Warszawa", "00-590", "ZIP"),
    ("Calle Mayor, 5, 3º B, 28013 Madrid", "3º B", "ADDRESS"),
    ("Kennet Surgery\n41 Silver Street\nReading\nRG1 2ST", "RG1 2ST", "ZIP"),
    ("Address: House 27, Street 9, Block F, Model Town, Lahore\nMobile: 0300-1234567", "Model Town, Lahore",
     "ADDRESS"),
    ("Unit 5/17 Bridge Rd, Glebe NSW 2037", "2037", "ZIP"),
    ("PSC 1234, Box 5678, APO AE 09012", "PSC 1234, Box 5678", "ADDRESS"),
    ("ring me på 95 873333 i morgen", "95 873333", "PHONE"),
    ("tél. 01 42 68 53 00", "01 42 68 53 00", "PHONE"),
    ("WhatsApp +91 98765 43210", "+91 98765 43210", "PHONE"),
    ("my driver's license number is D1234-56789-01234", "D1234-56789-01234", "ID"),
    ("NINO AB 12 34 56 C please", "AB 12 34 56 C", "ID"),
    ("Versicherungsnummer 12 150539 S 018 bitte", "12 150539 S 018", "ID"),
    ("Numer polisy: POL/2023/448102.", "POL/2023/448102", "ID"),
    ("CALLER: Four four one two, zero nine three seven.", "Four four one two, zero nine three seven", "ID"),
    ("seen 2024-03-05T14:22:10Z by", "2024-03-05T14:22:10Z", "DATE"),
    ("am 5. März 2024 um 10:30", "5. März 2024 um 10:30", "DATE"),
    ("Termin wurde auf Mi., 17.04. um 9:30 verschoben", "17.04. um 9:30", "DATE"),
    ("geb. am 9. Oktober 1947, wohnhaft", "9. Oktober 1947", "DATE"),
    ("生年月日: 1989年3月15日", "1989年3月15日", "DATE"),
    ("she is an 82 yo female", "82 yo", "AGE"),
    ("Mme Perrin, soixante-dix-neuf ans, vient", "soixante-dix-neuf", "AGE"),
    ("Antenatal: Priyanka Raghunathan, 34, 28/40.", "34", "AGE"),
    ("Dependants: Léa (6), Mathis (3)", "6", "AGE"),
    ("Segurado: Carlos Eduardo Vasconcelos\nApólice", "Carlos Eduardo Vasconcelos", "PERSON"),
    ("dr. P.J. van Leeuwen, klinisch geriater", "P.J. van Leeuwen", "PERSON"),
    ("[10:02] Agent (Sam): Thanks for waiting", "Sam", "PERSON"),
    ("Sehr geehrte Frau Schwarzkopf, ab dem", "Schwarzkopf", "PERSON"),
    # addresses announced by a label or a phrase, units that start a line, capitals, numbers in words
    ("Adres zamieszkania: ul. Długa 7 m. 3, 80-827 Gdańsk", "ul. Długa 7 m. 3", "ADDRESS"),
    ("Adres zamieszkania: ul. Długa 7 m. 3, 80-827 Gdańsk", "80-827", "ZIP"),
    ("Mailing address:\nRural Route 2, Box 17\nSome text", "Rural Route 2, Box 17", "ADDRESS"),
    ("住所：大阪府堺市北区中百舌鳥町2丁目 5-3", "大阪府堺市北区中百舌鳥町2丁目 5-3", "ADDRESS"),
    ("Адрес: ул. Ленина, д. 5, кв. 12, Казань, 420111", "ул. Ленина, д. 5, кв. 12, Казань", "ADDRESS"),
    ("Адрес: ул. Ленина, д. 5, кв. 12, Казань, 420111", "420111", "ZIP"),
    ("q?id=9&addr1=Knockbeg, Ballymote&county=Co. Mayo&x=1", "Co. Mayo", "ADDRESS"),
    ('{"line1": "Plot 7, Ring Road", "city": "Accra"}', "Accra", "ADDRESS"),
    ("my sister is staying at Ivy Lodge, 4 Mill Row, Hexham now", "Ivy Lodge, 4 Mill Row, Hexham", "ADDRESS"),
    ("Apartment 6, Carlton House, Quay Street, Galway H91 X2Y3", "Carlton House, Quay Street, Galway", "ADDRESS"),
    ("still at 88 Birch Avenue in Skokie?", "Skokie", "ADDRESS"),
    ("ROBERT J KING\n2210 N 35TH AVE APT 9\nOMAHA NE 68111", "2210 N 35TH AVE APT 9", "ADDRESS"),
    ("ROBERT J KING\n2210 N 35TH AVE APT 9\nOMAHA NE 68111", "68111", "ZIP"),
    ("AGENT: first line? CALLER: Sixty-one Larch Close.", "Sixty-one Larch Close", "ADDRESS"),
    ("Return to 9 Elm Ct\nDayton, OH 45402", "Dayton, OH", "ADDRESS"),
    ("Surgery at 3 Bridge Street, Wells BA5 2EE today", "BA5 2EE", "ZIP"),
    ("Eltern: Ute Brandt, Am Lindenhof 14, 33602 Bielefeld", "Am Lindenhof 14", "ADDRESS"),
    ("Médecin : Dr Roux, 5 place de l'Hôtel de Ville, 69001 Lyon", "5 place de l'Hôtel de Ville", "ADDRESS"),
    ("New address: Vlaška 12, 2. kat, 10000 Zagreb", "Vlaška 12, 2. kat", "ADDRESS"),
    ("Paketadresse:\nAnna Wolf\nbei Krämer\nBurggasse 7\n1070 Wien", "bei Krämer", "ADDRESS"),
    ("Postadres: p/a fam. Visser, Dorpsstraat 4, 1234 AB Ede", "1234 AB", "ZIP"),
    ("Witness: shop manager Harpreet Dhaliwal, 01632 960 118.", "01632 960 118", "PHONE"),
    ("Hasta | Adres: Gazi Mah. Lale Sk. No:7 Daire:2, Yenimahalle/Ankara | Tel", "Gazi Mah. Lale Sk. No:7 Daire:2",
     "ADDRESS"),
    ("Please send it to 4120 Maple Hollow, Apt. 8, North Brenda, OR 97301.", "4120 Maple Hollow, Apt. 8, North Brenda",
     "ADDRESS"),
    ("New place: 58 Quarry Springs Suite 200 in Port Alana", "58 Quarry Springs Suite 200 in Port Alana", "ADDRESS"),
    ("Ward round. Eilidh, 31, admitted overnight.", "Eilidh", "PERSON"),
    ("Ward round. Eilidh, 31, admitted overnight.", "31", "AGE"),
    ("Rohan Mehta (badge 44-1902), 52, cleaner, was seen.", "52", "AGE"),
    ("adresi Bahçelievler Mahallesi, İnönü Caddesi No: 8 Daire: 12, 06500 Ankara", "Bahçelievler Mahallesi",
     "ADDRESS"),
    ("adresi Bahçelievler Mahallesi, İnönü Caddesi No: 8 Daire: 12, 06500 Ankara", "İnönü Caddesi No: 8 Daire: 12",
     "ADDRESS"),
    ("Pacientka Eva Malá, bytem Palackého 718/2, 500 03 Hradec Králové", "Palackého 718/2", "ADDRESS"),
    ("Pacientka Eva Malá, bytem Palackého 718/2, 500 03 Hradec Králové", "Eva Malá", "PERSON"),
    ("Kontakt: Pod Vinicí 14, 140 00 Praha 4", "Pod Vinicí 14", "ADDRESS"),
    ("Pacient Jan Svoboda přišel včera.", "Jan Svoboda", "PERSON"),
    ("어제 최지우에게 연락했고 내일 옵니다.", "최지우", "PERSON"),
    ("Please ship to 李娜 at the Shanghai office.", "李娜", "PERSON"),
    ("联系人：王伟，电话 138 0013 8000", "王伟", "PERSON"),
    ("ग्राहक प्रिया गुप्ता का खाता बंद है।", "प्रिया गुप्ता", "PERSON"),
    ("मरीज़ की उम्र 45 वर्ष है, 12 मार्च 2024 को भर्ती।", "12 मार्च 2024", "DATE"),
    ("मरीज़ की उम्र 45 वर्ष है, 12 मार्च 2024 को भर्ती।", "45 वर्ष", "AGE"),
    ("Hasta 12 Mart 2024 tarihinde başvurdu.", "12 Mart 2024", "DATE"),
    ("Pacient (45 let) přijat 3. března 2024.", "3. března 2024", "DATE"),
    ("환자는 2024년 3월 15일에 45세로 입원했다.", "45세", "AGE"),
    ("Mme Roux, Cité des Lilas, Bât. 2, Apt 14, 59000 Lille.", "Cité des Lilas, Bât. 2, Apt 14", "ADDRESS"),
    ("seen at Holly Bank Nursing Home, Mill Road, Tralee, Co. Kerry V92 X3Y4", "Holly Bank Nursing Home, Mill Road",
     "ADDRESS"),
    ("Indirizzo: Via Po 8, 10123 Torino (TO), Italia", "Torino (TO)", "ADDRESS"),
    ("Rua das Palmeiras, 90\nJardim Europa\n04567-120 Campinas / SP", "Jardim Europa", "ADDRESS"),
    ("Rua das Palmeiras, 90\nJardim Europa\n04567-120 Campinas / SP", "Campinas / SP", "ADDRESS"),
    ("Amtl. Kennzeichen: M-KL 2291\nSchadentag: 14.05.2024", "M-KL 2291", "ID"),
    ("someone used my HKID Z683365(5) to open an account", "Z683365(5)", "ID"),
    ("we were at 44 birch lane yesterday", "44 birch lane", "ADDRESS"),
    ("my address is flat 2 / 17 queen st, dunedin", "17 queen st", "ADDRESS"),
    # addresses in other scripts, and Brazilian lines joined by dashes
    ("住所は東京都新宿区西新宿2-8-1です。", "東京都新宿区西新宿2-8-1", "ADDRESS"),
    ("配送地址：广东省深圳市南山区科技园路18号3栋502室", "广东省深圳市南山区科技园路18号3栋502室", "ADDRESS"),
    ("주소는 서울시 마포구 월드컵북로 396, 5층", "서울시 마포구 월드컵북로 396", "ADDRESS"),
    ("ที่อยู่ 88/5 ซอยลาดพร้าว 15 แขวงจอมพล เขตจตุจักร", "88/5 ซอยลาดพร้าว 15 แขวงจอมพล เขตจตุจักร", "ADDRESS"),
    ("доставка: пр. Мира, д. 21, кв. 3, Самара, 443001.", "пр. Мира, д. 21, кв. 3, Самара", "ADDRESS"),
    ("доставка: пр. Мира, д. 21, кв. 3, Самара, 443001.", "443001", "ZIP"),
    ("Στείλτε το στην Οδός Ερμού 42, Αθήνα. Ευχαριστώ.", "Οδός Ερμού 42, Αθήνα", "ADDRESS"),
    ("הכתובת: רחוב ביאליק 10, דירה 4, רמת גן.", "רחוב ביאליק 10, דירה 4, רמת גן", "ADDRESS"),
    ("Entregar em Rua do Sol, 45 - Apto 12 - Boa Vista, Recife - PE, 50050-100.", "Apto 12 - Boa Vista, Recife",
     "ADDRESS"),
    ("Entregar em Rua do Sol, 45 - Apto 12 - Boa Vista, Recife - PE, 50050-100.", "50050-100", "ZIP"),
    # dates with their time, in logs, and said in words; ages next to a relative or shared by two children
    ("Collision on Friday, 3 May 2024 at approximately 17:45 near", "3 May 2024 at approximately 17:45", "DATE"),
    ("Einbruch am 04.06.2024 zwischen 14:00 und 15:00 Uhr gemeldet", "04.06.2024 zwischen 14:00 und 15:00 Uhr",
     "DATE"),
    ('10.0.0.7 - - [03/Feb/2025:19:02:11 +0000] "GET /', "03/Feb/2025:19:02:11 +0000", "DATE"),
    ("AGENT: Date of birth? CALLER: the eleventh of March, nineteen ninety.",
     "eleventh of March, nineteen ninety", "DATE"),
    ("AGENT: Your date of birth? CALLER: Seven, four, sixty-two.", "Seven, four, sixty-two", "DATE"),
    ("my grandma is 91 and lives alone", "91", "AGE"),
    # a lone first name after a greeting or an introduction; form labels mid-line and in more languages
    ("AGENT: Acme Telecom, you're speaking with Tam. How can I help?", "Tam", "PERSON"),
    ("Beste Joris, uw afspraak is verzet.", "Joris", "PERSON"),
    ("NOM : MARCHAND   Prénom : Ysé", "MARCHAND", "PERSON"),
    ("NOM : MARCHAND   Prénom : Ysé", "Ysé", "PERSON"),
    ("Nume: Popescu  Prenume: Ana-Maria", "Popescu", "PERSON"),
    ("zwei Kinder (4 und 9 Jahre)", "4", "AGE"),
    ("氏名: 山田 花子\nフリガナ", "山田 花子", "PERSON"),
    ("Patient Priya Sharma (प्रिया शर्मा) called", "प्रिया शर्मा", "PERSON"),
    # the last line of a text counts as near an address; a city before its province; a city's district letter
    ("Discharged to her son's.\nLives at 9 Moorgate Road East, Rotherham S60 2AX.", "Rotherham", "ADDRESS"),
    ("Flat 7, Lakshmi Residency, near Ram Mandir, Gandhi Chowk,\nNashik, Maharashtra - 422001.", "Nashik",
     "ADDRESS"),
    ("Flat 7, Lakshmi Residency, near Ram Mandir, Gandhi Chowk", "near Ram Mandir", "ADDRESS"),
    ("Send it to Nørregade 12, 2. tv., 8000 Aarhus C, tak.", "Aarhus C", "ADDRESS"),
    ("BP 221\n69331 Lyon Cedex 07\nFrance", "Lyon Cedex 07", "ADDRESS"),
    ("12 Rue Sherbrooke, Québec (QC) G1R 2B5", "Québec (QC)", "ADDRESS"),
    # streets by number, without a number, in Latin-letter Japanese, Colombian and Estonian forms
    ("Blk 33 Bedok North Ave 3, #04-12", "Bedok North Ave 3", "ADDRESS"),
    ("yeah i'm staying at the flat on Iffley Rd, no. 48 tonight", "Iffley Rd, no. 48", "ADDRESS"),
    ("Deliver to 2-5-11 Higashi-Nakano, Nakano-ku, Tokyo", "2-5-11 Higashi-Nakano", "ADDRESS"),
    ("Deliver to 2-5-11 Higashi-Nakano, Nakano-ku, Tokyo", "Nakano-ku, Tokyo", "ADDRESS"),
    ("Nos vemos en la Calle 85 #12-40, apto 301, Medellín", "Calle 85 #12-40, apto 301", "ADDRESS"),
    ("aadress Tartu mnt 14-3, 10117 Tallinn", "Tartu mnt 14-3", "ADDRESS"),
    ("Sea Lane, Bexhill-on-Sea TN39 4RS", "TN39 4RS", "ZIP"),
    # units, boxes and house numbers of more countries
    ("Rua do Carmo, n.º 17, 3.º andar, fração C, 1200-093 Lisboa", "n.º 17, 3.º andar, fração C", "ADDRESS"),
    ("Str. Lalelelor nr. 8, bl. C2, sc. 1, ap. 9, Cluj-Napoca", "bl. C2, sc. 1, ap. 9", "ADDRESS"),
    ("Wohnung 4, 2. OG rechts, Lindenstraße 7", "2. OG rechts", "ADDRESS"),
    ("Postadresse: Postfach 20 14 55, 50667 Köln", "Postfach 20 14 55", "ADDRESS"),
    ("Lieferung an Packstation 207, Postnummer 551203968", "Packstation 207", "ADDRESS"),
    ("Lieferung an Packstation 207, Postnummer 551203968", "Postnummer 551203968", "ADDRESS"),
    ("Thorvald Meyers gate 8 A, H0201, 0555 Oslo", "H0201", "ADDRESS"),
    ("Pécs, Király utca 21. III/4.", "III/4", "ADDRESS"),
    ("Nuova sede: Piazza Duomo 3, 20122 Milano MI", "Milano MI", "ADDRESS"),
    ("I live at 3 Ferry Road, Leith", "3 Ferry Road, Leith", "ADDRESS"),
    ("Ich wohne in Köln-Ehrenfeld, Venloer Str. 210.", "Köln-Ehrenfeld", "ADDRESS"),
    ("My mum is staying with me at 5 Orchard Way, Hull, for now", "5 Orchard Way, Hull", "ADDRESS"),
    ("Address: Village Kheri Kalan, Post Office Sonipat, Dist. Sonipat (HR) 131001", "Post Office Sonipat",
     "ADDRESS"),
    # streets written in lower case in chats, with their unit, town, state and postal code
    ("moving to 2210 e 5th st apt c, austin tx 78702 next week", "2210 e 5th st apt c, austin tx", "ADDRESS"),
    ("moving to 2210 e 5th st apt c, austin tx 78702 next week", "78702", "ZIP"),
    ("leave it at 18 elm st, 3rd fl, boston ma 02116 thx", "18 elm st, 3rd fl, boston ma", "ADDRESS"),
    ("mi casa es calle morelos 45, puebla", "calle morelos 45, puebla", "ADDRESS"),
    ("festa da me, via garibaldi 9 secondo piano, suonate", "via garibaldi 9 secondo piano", "ADDRESS"),
    ("skicka till storgatan 12b, 41138 göteborg.", "41138", "ZIP"),
    ("skicka till storgatan 12b, 41138 göteborg.", "göteborg", "ADDRESS"),
    ("nieuw adres: keizersgracht 88 bis, 1015 CS amsterdam", "keizersgracht 88 bis", "ADDRESS"),
    ("nieuw adres: keizersgracht 88 bis, 1015 CS amsterdam", "amsterdam", "ADDRESS"),
    ("c'est 455 rue st-denis app 7 montreal qc h2x 3l6 merci", "455 rue st-denis app 7 montreal qc", "ADDRESS"),
    # crossings, a block of a street, a house by its number alone; units of more countries
    ("Collision at Main St & 3rd Ave, Fresno, CA", "Main St & 3rd Ave", "ADDRESS"),
    ("Kaza Atatürk Caddesi ile İnönü Caddesi kavşağında oldu", "Atatürk Caddesi ile İnönü Caddesi", "ADDRESS"),
    ("a disturbance in the 1200 block of N. Clark St. Units", "1200 block of N. Clark St.", "ADDRESS"),
    ("the hedge at number 17 is too tall", "number 17", "ADDRESS"),
    ("Hij woont in Zorgcentrum De Beuk, kamer 4, Beukenlaan 2", "Zorgcentrum De Beuk, kamer 4", "ADDRESS"),
    ("Adres: Keizersgracht 101-III, 1015 CJ Amsterdam", "Keizersgracht 101-III", "ADDRESS"),
    ("Adresi Kazım Dirik Mah. 372 Sok. No:9 D:4 35100 Bornova/İzmir", "No:9 D:4", "ADDRESS"),
    ("Adresi Kazım Dirik Mah. 372 Sok. No:9 D:4 35100 Bornova/İzmir", "Bornova/İzmir", "ADDRESS"),
    ("Domicilio: Calle de Toledo número 62, cuarto C, Madrid", "Calle de Toledo número 62, cuarto C", "ADDRESS"),
    ("Osoite: Rantakatu 4 as. 12, 65100 Vaasa", "as. 12", "ADDRESS"),
    ("Adres: skr. poczt. 77, 00-950 Warszawa", "skr. poczt. 77", "ADDRESS"),
    ("Verhuurder: Postbus 1180, 3000 BD Rotterdam", "Postbus 1180", "ADDRESS"),
    ("Vážený pan Novák, Náměstí Republiky 8, 301 00 Plzeň", "Náměstí Republiky 8", "ADDRESS"),
    ("siedzibą w Krakowie, ul. Długa 5 w Krakowie", "ul. Długa 5 w Krakowie", "ADDRESS"),
    ("4520, avenue Papineau, app. 3, Montréal (Québec) H2H 1V4", "Montréal (Québec)", "ADDRESS"),
    ("{\"navn\": \"x\", \"poststed\": \"BERGEN\"}", "BERGEN", "ADDRESS"),
    # other scripts: a short Korean region, kanji numerals, Latin letters in a Chinese building, a Hindi house no.
    ("선물은 대구 수성구 달구벌대로 2450 3층으로 보냈어", "대구 수성구 달구벌대로 2450 3층", "ADDRESS"),
    ("新住所は東京都目黒区自由が丘一丁目五番三号です", "東京都目黒区自由が丘一丁目五番三号", "ADDRESS"),
    ("收货地址：上海市浦东新区世纪大道100号 环球金融中心B座 3305", "环球金融中心B座 3305", "ADDRESS"),
    ("पता: 12/4, गोमती नगर, लखनऊ", "12/4, गोमती नगर, लखनऊ", "ADDRESS"),
    # names widened over what their recognizer left out, speakers after a dated time stamp, lower-case names
    ("Account holder Darlene Fisk, phone 417 555 0106", "Darlene Fisk", "PERSON"),
    ("Werknemer: Anna-Lena Vogt, personeelsnr. 4412", "Anna-Lena Vogt", "PERSON"),
    ("Inquilino: José Luis García de la Vega (DNI 12345678Z)", "García de la Vega", "PERSON"),
    ("Cardholder name: TAMIKA R. JOHNSON\nCard number: 4111", "TAMIKA R. JOHNSON", "PERSON"),
    ("Şikayetçi, komşusu Murat Yıldız'ın arabasını çizdi", "Murat Yıldız", "PERSON"),
    ("[Apr 9, 2024 7:12 PM] Noor: on my way\n[Apr 9, 2024 7:13 PM] Noor: 5 min", "Noor", "PERSON"),
    ("Lía: vienes mañana?\nDani: sí\nLía: genial", "Lía", "PERSON"),
    ("hey jenna — are you coming tonight?", "jenna", "PERSON"),
    ("can you drive grandma rosa to the clinic", "rosa", "PERSON"),
    ("got it, thanks ginette", "ginette", "PERSON"),
    # Chinese, Japanese and Korean names by the words around them
    ("千万别打给我姐姐张丽华，她不知道", "张丽华", "PERSON"),
    ("民警赵磊、孙悦到场处置", "孙悦", "PERSON"),
    ("快递员李师傅已派送", "李", "PERSON"),
    ("いつもお世話になっております。総務部の石井です。", "石井", "PERSON"),
    ("借主：松本 大輔（1988年生）", "松本 大輔", "PERSON"),
    ("氏名：山田 太郎（フリガナ：ヤマダ タロウ）", "ヤマダ タロウ", "PERSON"),
    ("担任の小川先生に相談しました", "小川", "PERSON"),
    ("엄마 나 민준이. 내일 갈게", "민준", "PERSON"),
    ("고객: 박서준이고요, 생일은 5월이에요", "박서준", "PERSON"),
    # dates with their time in more languages, spaced and other-script digits, expiry months
    ("Nehoda se stala 5. března 2024 v 17:30 u domu", "5. března 2024 v 17:30", "DATE"),
    ("Kaza 5 Mart 2024 günü saat 08.40 sularında oldu", "5 Mart 2024 günü saat 08.40", "DATE"),
    ("Data zdarzenia: 7 lutego 2024 r., godz. 7:45", "7 lutego 2024 r., godz. 7:45", "DATE"),
    ("At about 2330 hrs on Friday 16th February 2024 I was", "2330 hrs on Friday 16th February 2024", "DATE"),
    ("Siendo las 23:10 horas del día 16 de febrero de 2024", "23:10 horas del día 16 de febrero de 2024", "DATE"),
    ("受診日時 2024年3月5日 14時20分", "2024年3月5日 14時20分", "DATE"),
    ("在2024年1月28日 凌晨02:17 被盗刷", "2024年1月28日 凌晨02:17", "DATE"),
    ("내원일시: 2024년 4월 3일 오전 10시 20분", "2024년 4월 3일 오전 10시 20분", "DATE"),
    ("Hospitalizace: 14. 2. 2024 – 21. 2. 2024", "14. 2. 2024", "DATE"),
    ("입주일: 2024. 8. 25.", "2024. 8. 25", "DATE"),
    ("जन्मतिथि ०५/०८/१९५६ है", "०५/०८/१९५६", "DATE"),
    ("Passport 548219637, expires 03/2031", "03/2031", "DATE"),
    ("先週6月12日（水）の夜から", "6月12日（水）", "DATE"),
    ("Úraz při lyžování 20. 1. — distorze", "20. 1", "DATE"),
    ("2024-05-02T08:14:55Z,203.0.113.47,login", "2024-05-02T08:14:55Z", "DATE"),
    # ages said by turning them, in words of more languages, beside a relationship, with a sex in columns
    ("glöm inte att mormor fyller 80 på lördag", "80", "AGE"),
    ("ze wordt zestig die week", "zestig", "AGE"),
    ("外婆今年八十三了", "八十三", "AGE"),
    ("할머니 올해 여든다섯 되시는 거 맞지", "여든다섯", "AGE"),
    ("Tem oitenta e dois anos e anda com dificuldade", "oitenta e dois", "AGE"),
    ("Passengers: Ravi Menon, Arjun (son, 14)", "14", "AGE"),
    ("Age/Sex: 72 Y/F   UHID: 4411", "72 Y", "AGE"),
    ("被保険者：1976年8月29日生（満47歳）", "47歳", "AGE"),
    # phones with a particle or extension of another script, listed after another; ids after more cues
    ("고객: 010-4829-1673이에요", "010-4829-1673", "PHONE"),
    ("직통 02-6915-3400 (내선 217)", "02-6915-3400 (내선 217)", "PHONE"),
    ("联系电话：0755-8392 6614 / 139 2847 1056", "139 2847 1056", "PHONE"),
    ("Pt DeShawn Williams (MRN 77-10-42), intubated", "77-10-42", "ID"),
    ("white Holden Commodore, rego 1XK 9QF.", "1XK 9QF", "ID"),
    ("Officer D. Reyes (badge 1187) responded", "1187", "ID"),
    ("Paciente de 71a, prontuário 0884127, estável", "0884127", "ID"),
    # Devanagari: an address in Devanagari digits, a name ending before its postposition
    ("उनका पता ४५/७, शास्त्री नगर, कानपुर २०८००५ है", "४५/७, शास्त्री नगर, कानपुर", "ADDRESS"),
    ("श्रीमती सुनीता कुमारी ने कहा", "सुनीता कुमारी", "PERSON"),
    # a range of dates keeps both; a phone ends before a date written after it
    ("Vårdtid 2024-05-10 – 2024-05-14 på avdelning 3", "2024-05-10", "DATE"),
    ("Inpatient from 03/02/24 to 11/02/24, then rehab", "03/02/24", "DATE"),
    ("Internado de 10/06 a 18/06/2024 por pneumonia", "10/06", "DATE"),
    ("DUPONT Léa 06 12 34 56 78 14/02/2024", "14/02/2024", "DATE"),
])
def test_international_formats_are_covered(detector: Detector, text: str, value: str, entity: str) -> None:
    assert _covered(detector, text, value, entity), _found(detector, text)


@pytest.mark.parametrize("text", [
    "She took metformin 500 mg at 14:30 and walked 12000 steps on the road to recovery.",
    "Total 1 200 000 kr paid; BP 142/86, take 1/2 tablet, score 7/10.",
    "History of Parkinson's disease and Crohn's disease.",
    "Approved by Risk Management; transfer to Wells Fargo savings.",
    "Referred to St. Mary's Regional Medical Center for imaging.",
    "Hun bor i byen. Sa fille habite loin.",
    "COVID-19 test, HbA1c 7.2, for 3 years, 10 years ago, in 2019.",
    "She lives at home with her daughter and moved to a smaller flat in 2019.",
    "I may have taken one or two, then three tablets in March. One hundred and twenty patients came.",
    "My son is 5 foot tall and my wife was 3 hours late. City council said: the budget is fine.",
    "Email address: see the portal. IP address: unknown.",
    "Hello World. Hi there, dear reader. Thanks Team! This is Important.",
    "Im Jahr 2019 war er Am Ende 3 Mal da. Zum Beispiel 5 Tage.",
    "See Type (2) and Section (3). Room, 12, was empty. Total, 45, paid.",
    "北京市2024年的报告显示，3月份增长了5%。我在市中心工作了3年。",
    "병원으로 3번 갔고 서울로 2번 갔다.",
    "we walked 3 blocks down the road and took 2 tablets at the place. 5 more minutes on the way",
    "The Court House is old. Wendover House was sold in 2019. District 9 is a film.",
    "मैं कल बाजार गया और सब्जी खरीदी।",
    "We met at 10 in the lobby, then walked on to the station; no. 5 bus was late.",
    "Apply 2 drops, then ap 3 more if needed. Stage II/3 tumour; ratio 12-3-4 Mixed.",
    "ROM 5–95°, fever 39°; vitamin D 1000 IU daily; 16º aniversario. Yield 4.1% APY, ASAP please.",
    "I am at number 3 in the queue.",
    "Version 2. 3. release; ratio 1. 2. I take 1/2 tablet; de 3/4 partes. He wird 5 Uhr kommen.",
    "thanks so much, hey there, call me later. love it. with mark and joy. my aunt said no.",
])
def test_ordinary_text_is_left_alone(detector: Detector, text: str) -> None:
    assert [e for _, e in _found(detector, text) if e != "DATE" or "2019" not in text] == []


def test_a_name_is_widened_over_a_surname_not_over_a_frequent_word(detector: Detector) -> None:
    assert _found(detector, "Maria Called back on Monday.") == [("Maria", "PERSON")]


def test_a_hindi_name_ends_before_its_postposition(detector: Detector) -> None:
    text = "श्रीमती सुनीता कुमारी ने कहा"
    assert ("सुनीता कुमारी ने", "PERSON") not in _found(detector, text)


def test_an_ip_or_email_after_an_address_cue_is_no_address(detector: Detector) -> None:
    text = "Sent from 10.2.3.4 Please reply. Mailed to ana@example.org today."
    assert _found(detector, text) == [("10.2.3.4", "IP"), ("ana@example.org", "EMAIL")]


def test_a_sentence_with_a_number_and_one_place_word_is_no_address(detector: Detector) -> None:
    # (NER may take a Russian word for a name here; no address or postal code may come of it)
    text = "Он пришёл в 5 часов с братом и сказал, что дом стоит 3 года, г. Тверь далеко."
    assert [e for _, e in _found(detector, text) if e in ("ADDRESS", "ZIP")] == []


def test_a_greeting_takes_the_name_not_the_pronoun(detector: Detector) -> None:
    found = _found(detector, "Hello, I'm Rosalind from the billing team.")
    assert ("Rosalind", "PERSON") in found and not any("I'm" in v for v, _ in found)


def test_months_before_numbers_stay_dates_not_names(detector: Detector) -> None:
    text = "Seen on Jan 5 and again in May 2024; the June 3 visit was cancelled."
    assert {e for _, e in _found(detector, text)} == {"DATE"}


def test_a_month_and_year_are_no_city_and_postcode(detector: Detector) -> None:
    text = "Proof of residence: municipal account dated 31 January 2024. Risk rating: low."
    assert _found(detector, text) == [("31 January 2024", "DATE")]


def test_a_city_ends_at_a_full_stop(detector: Detector) -> None:
    text = "Hun bor i Storgata 18, 0184 Oslo. Compliance review pending."
    assert ("Oslo", "ADDRESS") in _found(detector, text) and "Compliance" not in str(_found(detector, text))


def test_cells_of_labelled_table_columns_are_their_columns_type(detector: Detector) -> None:
    text = ("Export below:\nEMP_ID,SURNAME,GIVEN,DOB,HIRE_DATE,DEPT,SALARY\n"
            "20551,OKAFOR,Chidi,1988-03-14,2020-02-01,FIN,71000\n\nRef;Insured;DoL;Postcode;Reserve\n"
            "QX-22-0041;Pemberton, J;05/02/2024;LS6 3AB;2,100\n")
    found = _found(detector, text)
    for value, entity in [("20551", "ID"), ("OKAFOR", "PERSON"), ("Chidi", "PERSON"), ("QX-22-0041", "ID"),
                          ("Pemberton, J", "PERSON"), ("LS6 3AB", "ZIP")]:
        assert (value, entity) in found, found
    assert not any(value in ("FIN", "71000", "2,100") for value, _ in found)  # unlabelled columns stay


def test_a_table_without_pii_columns_is_left_alone(detector: Detector) -> None:
    assert _found(detector, "Dose, route, frequency\n5 mg, oral, daily\n10 mg, iv, weekly\n") == []


def test_values_of_fields_whose_key_names_pii(detector: Detector) -> None:
    text = ("<patient>\n  <surname>Abernethy</surname>\n  <postcode>AB10 1XG</postcode>\n  <ward>7B</ward>\n"
            "</patient>\nBILLING_NAME=HOLLOWAY RUTH A\nBILLING_CITY=MOOSE JAW\nLOG_LEVEL=info\n"
            '{"given_name": "Saoirse", "plan": "gold"}')
    found = _found(detector, text)
    for value, entity in [("Abernethy", "PERSON"), ("AB10 1XG", "ZIP"), ("HOLLOWAY RUTH A", "PERSON"),
                          ("MOOSE JAW", "ADDRESS"), ("Saoirse", "PERSON")]:
        assert (value, entity) in found, found
    assert not any(value in ("7B", "info", "gold") for value, _ in found)


def test_chat_speakers_without_time_stamps_and_not_form_labels(detector: Detector) -> None:
    chat = "Tamsin: did the deposit go through?\nOlu: yes!\nTamsin: great\nOlu: see you sat"
    assert [v for v, e in _found(detector, chat) if e == "PERSON"] == ["Tamsin", "Olu", "Tamsin", "Olu"]
    qa = "Q: what is the dose?\nA: 5 mg daily.\nQ: and for kids?\nA: half."
    assert _found(detector, qa) == []
