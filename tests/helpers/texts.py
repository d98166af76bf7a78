"""Texts written for the tests, shared by more than one test module."""

# UDHR-style sentences written for the tests (not a UDHR translation), one text per row.
YORUBA = [
    "Gbogbo ènìyàn ló ní ẹ̀tọ́ láti gbé ayé ní àlàáfíà àti òmìnira. Kò sí ẹni tí ó gbọdọ̀ fi ìyà jẹ ọmọnìyàn "
    "ẹlẹ́gbẹ́ rẹ̀, nítorí pé ọ̀wọ̀ àti iyì kan náà ni gbogbo wa ní.",
    "Olúkúlùkù ènìyàn ló ní ẹ̀tọ́ sí ẹ̀kọ́. Ẹ̀kọ́ ní ilé-ìwé alákọ̀ọ́bẹ̀rẹ̀ gbọdọ̀ jẹ́ ọ̀fẹ́, kí àwọn ọmọdé lè kọ́ bí a "
    "ṣe ń kà àti bí a ṣe ń kọ̀wé ní èdè wọn.",
    "Ìdílé ni ìpìlẹ̀ àwùjọ, ìjọba àti àwùjọ sì gbọdọ̀ dáàbò bò ó. Ọkùnrin àti obìnrin tí ó ti tó ọjọ́ orí lè ṣe "
    "ìgbéyàwó, kí wọ́n sì dá ìdílé sílẹ̀ láìsí ìdíwọ́.",
    "Ẹnikẹ́ni kò gbọdọ̀ di ẹrú. Òwò ẹrú àti ìfiniṣẹrú ní gbogbo ọ̀nà jẹ́ èèwọ̀, òfin sì gbọdọ̀ dáàbò bo gbogbo "
    "ènìyàn lọ́wọ́ rẹ̀.",
    "Olúkúlùkù ló ní ẹ̀tọ́ láti ṣiṣẹ́, láti yan iṣẹ́ tí ó wù ú, àti láti gba owó-oṣù tí ó tọ́ fún iṣẹ́ rẹ̀, kí òun "
    "àti ìdílé rẹ̀ lè gbé ìgbésí ayé tí ó yẹ ọmọnìyàn.",
    "Gbogbo ènìyàn ló dọ́gba níwájú òfin, wọ́n sì ní ẹ̀tọ́ sí ààbò òfin láìsí ìyàtọ̀ kankan, bí ó ti wù kí àwọ̀ "
    "ara wọn, èdè wọn tàbí ẹ̀sìn wọn rí.",
]
