set terminal pngcairo size 960,600 noenhanced font "sans,11"
set output "phases-weak.png"
set grid
set key top left box opaque
set title "Weak scaling: median time per phase (max over ranks); * = oversubscribed"
set ylabel "seconds"
set xlabel "ranks x threads, rows"
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.6
set key outside right top vertical
set yrange [0:*]
set xtics rotate by -20
colors = "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf #393b79 #e7ba52 #637939 #ad494a"
plot for [i=2:12] "phases-weak.dat" using i:xtic(1) title columnheader(i) lc rgb word(colors, (i - 2) % 14 + 1)
