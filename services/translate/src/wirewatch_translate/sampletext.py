"""A few paragraphs of news-like text per language, written for wirewatch, to train test tokenizers.

Used only to build the tiny test packages: their SentencePiece models learn these pieces, so an
English input tokenizes into English pieces and the decoder can only emit the target's script.
"""

from __future__ import annotations

SAMPLE_TEXT: dict[str, str] = {
    "en": """
The port authority said on Tuesday that grain exports would resume after a two-day strike.
Dockworkers walked out over pay, halting the loading of twelve ships bound for Egypt and Turkey.
The ministry of agriculture expects shipments of 1.2 million tonnes this month.
Talks between the union and the employers resume on Friday in the capital.
Prices of wheat rose 3.5 percent in early trading, according to exchange data.
The central bank kept its main interest rate unchanged at 4.25 percent, citing slower inflation.
Officials said the decision was unanimous and that further cuts depend on wage growth.
Heavy rain flooded roads in the north of the country, and schools were closed in three provinces.
Emergency teams evacuated more than 400 people from villages near the river.
The foreign minister met his counterpart in Ankara to discuss trade and energy cooperation.
Both sides agreed to double bilateral trade within five years, a joint statement said.
The company reported a quarterly profit of 2.1 billion dollars, above analyst forecasts.
Its shares climbed 6 percent in New York after the results were published.
Parliament approved the budget by 250 votes to 180 after a long debate on defence spending.
The opposition said the plan would raise taxes for families and small businesses.
Police arrested two suspects after a fire at a warehouse on the edge of the city.
Nobody was injured, but the damage was estimated at several million euros.
The national team won the match two to one and qualified for the final tournament.
Thousands of supporters celebrated in the streets until late at night.
Scientists warned that the summer was the hottest on record across the region.
""",
    "ar": """
قالت هيئة الميناء يوم الثلاثاء إن صادرات الحبوب ستستأنف بعد إضراب استمر يومين.
وأضرب عمال الرصيف احتجاجا على الأجور مما أوقف تحميل اثنتي عشرة سفينة متجهة إلى مصر وتركيا.
وتتوقع وزارة الزراعة شحن مليون ومئتي ألف طن هذا الشهر.
وتستأنف المحادثات بين النقابة وأصحاب العمل يوم الجمعة في العاصمة.
وارتفعت أسعار القمح في بداية التداول بحسب بيانات البورصة.
وأبقى البنك المركزي سعر الفائدة الرئيسي دون تغيير مشيرا إلى تباطؤ التضخم.
وقال مسؤولون إن القرار اتخذ بالإجماع وإن أي خفض آخر يعتمد على نمو الأجور.
وأغرقت الأمطار الغزيرة الطرق في شمال البلاد وأغلقت المدارس في ثلاث محافظات.
وأجلت فرق الطوارئ أكثر من أربعمئة شخص من القرى القريبة من النهر.
والتقى وزير الخارجية نظيره في أنقرة لبحث التعاون في التجارة والطاقة.
واتفق الجانبان على مضاعفة التجارة الثنائية خلال خمس سنوات بحسب بيان مشترك.
وأعلنت الشركة عن أرباح فصلية فاقت توقعات المحللين.
وصعدت أسهمها في نيويورك بعد نشر النتائج.
ووافق البرلمان على الميزانية بعد نقاش طويل حول الإنفاق الدفاعي.
وقالت المعارضة إن الخطة سترفع الضرائب على الأسر والشركات الصغيرة.
واعتقلت الشرطة مشتبها بهما بعد حريق في مستودع على أطراف المدينة.
ولم يصب أحد بأذى لكن الأضرار قدرت بعدة ملايين من اليورو.
وفاز المنتخب الوطني بالمباراة وتأهل إلى البطولة النهائية.
واحتفل آلاف المشجعين في الشوارع حتى وقت متأخر من الليل.
وحذر علماء من أن الصيف كان الأشد حرا في المنطقة.
""",
    "tr": """
Liman idaresi salı günü yaptığı açıklamada tahıl ihracatının iki günlük grevin ardından yeniden başlayacağını söyledi.
Liman işçileri ücretler nedeniyle iş bıraktı ve Mısır ile Türkiye'ye gidecek on iki geminin yüklenmesi durdu.
Tarım Bakanlığı bu ay bir milyon iki yüz bin ton sevkiyat bekliyor.
Sendika ile işverenler arasındaki görüşmeler cuma günü başkentte yeniden başlayacak.
Borsa verilerine göre buğday fiyatları işlemlerin başında yüzde üç buçuk yükseldi.
Merkez bankası yavaşlayan enflasyonu gerekçe göstererek politika faizini değiştirmedi.
Yetkililer kararın oybirliğiyle alındığını ve yeni indirimlerin ücret artışına bağlı olduğunu söyledi.
Şiddetli yağmur ülkenin kuzeyinde yolları su bastı ve üç ilde okullar kapatıldı.
Acil durum ekipleri nehir kenarındaki köylerden dört yüzden fazla kişiyi tahliye etti.
Dışişleri bakanı Ankara'da mevkidaşıyla ticaret ve enerji işbirliğini görüştü.
Ortak açıklamaya göre iki taraf beş yıl içinde ikili ticareti iki katına çıkarmayı kabul etti.
Şirket analist beklentilerinin üzerinde çeyrek kârı açıkladı.
Sonuçların yayımlanmasının ardından hisseleri New York'ta yüzde altı değer kazandı.
Meclis savunma harcamaları üzerine uzun bir tartışmanın ardından bütçeyi onayladı.
Muhalefet planın aileler ve küçük işletmeler için vergileri artıracağını söyledi.
Polis şehrin kenarındaki bir depoda çıkan yangının ardından iki şüpheliyi gözaltına aldı.
Yaralanan olmadı ancak hasarın birkaç milyon avro olduğu tahmin ediliyor.
Milli takım maçı ikiye bir kazandı ve final turnuvasına katılma hakkı elde etti.
Binlerce taraftar gece geç saatlere kadar sokaklarda kutlama yaptı.
Bilim insanları yazın bölgede kayıtlara geçen en sıcak yaz olduğu uyarısında bulundu.
""",
}
"""Keyed by language code; each value a few KB of plain sentences, one per line."""
