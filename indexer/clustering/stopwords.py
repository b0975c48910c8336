"""Compact Russian and English stop words for cluster keywords.

Function words and complaint boilerplate that say nothing about *what* went
wrong. Matched on the lower-cased surface form (ё folded to е), before
stemming, so a content word that merely shares a stem is kept.
"""

from __future__ import annotations

ENGLISH = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before being below
    between both but by can cannot could couldn't did didn't do does doesn't doing don't down during each even ever
    every few for from further get gets getting got gotten had hadn't has hasn't have haven't having he her here hers
    herself him himself his how however i if in into is isn't it it's its itself just let me more most much must my
    myself no nor not now of off on once one only or other our ours ourselves out over own per please same she should
    shouldn't so some still such than that that's the their theirs them themselves then there these they this those
    through to too under until up upon us very via was wasn't we were weren't what when where whether which while who
    whom whose why will with within without won't would wouldn't yes yet you your yours yourself yourselves also
    already another around back since though thus told said say says going go went made make makes many may might
    like well would know knew thing things way anyone anything anybody someone something everyone everything
    nothing either neither
    """.split()
)

RUSSIAN = frozenset(
    """
    а без более бы был была были было быть в вам вас весь во вот все всего всех вы где да даже для до его ее ей ему
    если есть еще же за здесь и из или им их к как какая какой когда кто ли либо мне мной может мой моя мы на над
    надо наш не него нее нет ни них но ну о об однако он она они оно от очень по под после при про раз с сам свой
    себе себя со так также такой там те тем то того тоже той только том тот ту ты у уже хотя чего чей чем что чтобы
    чье чья эта эти это этого этой этом этот я ведь вообще вроде всё её ещё опять пока потом потому почему просто
    разве сейчас снова совсем тогда тут уж чтоб будет будут буду будем было будто какие каких какую который которая
    которые которых которое которой котором которую мог могу может можно мои моей моего моих нам нами нас нему ним
    ними них ничего него нибудь кого кому чём чему всем всеми всю вся весь всех свою своей своего своих свои своим
    этим этими этих этому ему им наши нашей нашего наших ваш ваша ваше ваши вашей вашего хочу хотел хотела
    хотели некоторое некоторые некоторых например именно поэтому итоге вообще
    """.split()
)

# folded like the tokens they are compared with
STOP_WORDS = frozenset(w.replace("ё", "е") for w in ENGLISH | RUSSIAN)


def is_stop_word(token: str) -> bool:
    return token.lower().replace("ё", "е") in STOP_WORDS
